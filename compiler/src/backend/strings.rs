//! The string table and class labels of an artifact (`kir::StringInfo`), as C (in the header:
//! `static inline` functions, so every backend's artifact has them) and as Rust (in the
//! generated module). A string element is an `int32` id: its index in the sorted table.
//! Callers intern their strings before a run (`NAME_intern_all` / `intern_all`: an unknown
//! string `i` gets `-2 - i`) and look string outputs up by id. Nothing allocates.

use crate::kir::{Labels, Program};
use std::fmt::Write;

/// A C string literal of these bytes (octal escapes for anything but printable ASCII; `?`
/// escaped against trigraphs).
fn c_literal(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' | b'\\' | b'?' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\{c:03o}");
            }
        }
    }
    s.push('"');
    s
}

/// A Rust byte string literal of these bytes.
fn rust_bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// The header section (empty without strings and labels). `outs` are the outputs' idents.
pub fn c_section(p: &Program, outs: &[String]) -> String {
    let si = &p.strings;
    if si.is_empty() {
        return String::new();
    }
    let name = &p.name;
    let n = si.table.len();
    let mut s = String::new();
    s.push_str(
        "/* Strings: a string element is an int32_t id, its index in the model's sorted string\n \
         * table. Intern inputs with NAME_intern_all (an unknown string i gets -2 - i, which\n \
         * matches no key: the model's default applies); look outputs up with NAME_string. */\n"
            .replace("NAME", name)
            .as_str(),
    );
    s.push_str(
        "#ifndef KILN_STR_TYPE\n#define KILN_STR_TYPE\n\
         typedef struct kiln_str {\n    const char *ptr;\n    size_t len;\n} kiln_str;\n#endif\n",
    );
    let _ = writeln!(s, "#define {name}_STRING_COUNT {n}");
    let _ = writeln!(s, "#define {name}_STRING_UNKNOWN (-1)");
    let _ = writeln!(
        s,
        "static inline const kiln_str *{name}_kiln_strtab(void) {{"
    );
    if n == 0 {
        s.push_str("    return 0;\n}\n");
    } else {
        let _ = writeln!(s, "    static const kiln_str t[{n}] = {{");
        for t in &si.table {
            let _ = writeln!(s, "        {{{}, {}}},", c_literal(t), t.len());
        }
        s.push_str("    };\n    return t;\n}\n");
    }
    let _ = write!(
        s,
        "/* The bytes of string id (not NUL-terminated: see {name}_string_len), or NULL. */\n\
         static inline const char *{name}_string(int32_t id) {{\n    \
         return (id >= 0 && id < {n}) ? {name}_kiln_strtab()[id].ptr : 0;\n}}\n\
         static inline size_t {name}_string_len(int32_t id) {{\n    \
         return (id >= 0 && id < {n}) ? {name}_kiln_strtab()[id].len : 0;\n}}\n\
         /* The id of a string, or {name}_STRING_UNKNOWN (binary search). */\n\
         static inline int32_t {name}_intern(const char *ptr, size_t len) {{\n    \
         int32_t lo = 0, hi = {n};\n    \
         while (lo < hi) {{\n        \
         int32_t mid = lo + (hi - lo) / 2;\n        \
         const kiln_str *e = &{name}_kiln_strtab()[mid];\n        \
         size_t k = 0, m = e->len < len ? e->len : len;\n        \
         int c = 0;\n        \
         while (k < m && c == 0) {{\n            \
         c = (int)(unsigned char)e->ptr[k] - (int)(unsigned char)ptr[k];\n            \
         k++;\n        \
         }}\n        \
         if (c == 0) c = (e->len < len) ? -1 : (e->len > len) ? 1 : 0;\n        \
         if (c == 0) return mid;\n        \
         if (c < 0) lo = mid + 1; else hi = mid;\n    \
         }}\n    \
         return {name}_STRING_UNKNOWN;\n}}\n\
         /* ids[i] = the id of in[i], or -2 - i if it is not in the table. */\n\
         static inline void {name}_intern_all(const kiln_str *in, size_t n, int32_t *ids) {{\n    \
         size_t i;\n    \
         for (i = 0; i < n; i++) {{\n        \
         int32_t id = {name}_intern(in[i].ptr, in[i].len);\n        \
         ids[i] = id >= 0 ? id : (int32_t)(-2 - (int64_t)i);\n    \
         }}\n}}\n"
    );
    for (k, labels) in &si.labels {
        let o = &outs[*k as usize];
        let (ty, vals, none): (&str, Vec<String>, String) = match labels {
            Labels::Strings(v) => (
                "int32_t",
                v.iter().map(|i| i.to_string()).collect(),
                format!("{name}_STRING_UNKNOWN"),
            ),
            Labels::Ints(v) => (
                "int64_t",
                v.iter().map(|i| format!("INT64_C({i})")).collect(),
                "0".into(),
            ),
        };
        let what = match labels {
            Labels::Strings(_) => "string id (see {name}_string)".replace("{name}", name),
            Labels::Ints(_) => "integer label".into(),
        };
        let c = vals.len();
        let _ = write!(
            s,
            "/* Output \"{o}\" is a map per row (ZipMap): column c of its [N, {c}] array is the\n \
             * value of class {name}_{o}_label(c), a {what}; c out of range gives {none}. */\n\
             #define {name}_{o}_LABEL_COUNT {c}\n\
             static inline {ty} {name}_{o}_label(size_t c) {{\n"
        );
        if c == 0 {
            let _ = write!(s, "    (void)c;\n    return {none};\n}}\n");
        } else {
            let _ = write!(
                s,
                "    static const {ty} t[{c}] = {{{}}};\n    return c < {c} ? t[c] : {none};\n}}\n",
                vals.join(", ")
            );
        }
    }
    s.push('\n');
    s
}

/// The Rust module section (empty without strings and labels). `outs` are the outputs' idents.
pub fn rust_section(p: &Program, outs: &[String]) -> String {
    let si = &p.strings;
    if si.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let items: Vec<String> = si.table.iter().map(|t| rust_bytes(t)).collect();
    let _ = write!(
        s,
        "    /// The model's sorted string table: a string element is an `i32` id, its index here.\n    \
         pub const STRINGS: &[&[u8]] = &[{}];\n    \
         /// The id `intern` returns for a string not in the table.\n    \
         pub const STRING_UNKNOWN: i32 = -1;\n\n    \
         /// The bytes of string `id`.\n    \
         pub fn string(id: i32) -> Option<&'static [u8]> {{\n        \
         usize::try_from(id).ok().and_then(|i| STRINGS.get(i).copied())\n    }}\n\n    \
         /// String `id` as text (None if unknown or not UTF-8).\n    \
         pub fn label(id: i32) -> Option<&'static str> {{\n        \
         string(id).and_then(|b| core::str::from_utf8(b).ok())\n    }}\n\n    \
         /// The id of `s`, or `STRING_UNKNOWN` (binary search).\n    \
         pub fn intern(s: impl AsRef<[u8]>) -> i32 {{\n        \
         match STRINGS.binary_search(&s.as_ref()) {{\n            \
         Ok(i) => i as i32,\n            \
         Err(_) => STRING_UNKNOWN,\n        }}\n    }}\n\n    \
         /// `ids[i]` = the id of `strs[i]`, or `-2 - i` if it is not in the table (it then\n    \
         /// matches no key: the model's default applies). Panics if `ids` is shorter.\n    \
         pub fn intern_all<S: AsRef<[u8]>>(strs: &[S], ids: &mut [i32]) {{\n        \
         assert!(ids.len() >= strs.len(), \"intern_all: ids is shorter than strs\");\n        \
         for (i, (s, id)) in strs.iter().zip(ids.iter_mut()).enumerate() {{\n            \
         let k = intern(s);\n            \
         *id = if k >= 0 {{ k }} else {{ -2 - i as i32 }};\n        }}\n    }}\n\n",
        items.join(", ")
    );
    for (k, labels) in &si.labels {
        let o = outs[*k as usize].to_uppercase();
        match labels {
            Labels::Strings(v) => {
                let names: Vec<String> = v
                    .iter()
                    .map(|i| rust_bytes(&si.table[*i as usize]))
                    .collect();
                let ids: Vec<String> = v.iter().map(|i| i.to_string()).collect();
                let _ = write!(
                    s,
                    "    /// Class labels of output `{o}`'s columns (ZipMap: column c of row r is the\n    \
                     /// value of class `{o}_LABELS[c]`).\n    \
                     pub const {o}_LABELS: &[&[u8]] = &[{}];\n    \
                     /// String ids of `{o}_LABELS`.\n    \
                     pub const {o}_LABEL_IDS: &[i32] = &[{}];\n\n",
                    names.join(", "),
                    ids.join(", ")
                );
                let texts: Option<Vec<&str>> = v
                    .iter()
                    .map(|i| std::str::from_utf8(&si.table[*i as usize]).ok())
                    .collect();
                if let Some(t) = texts {
                    s.push_str(&class_enum(&outs[*k as usize], &o, &t));
                }
            }
            Labels::Ints(v) => {
                let vals: Vec<String> = v.iter().map(|i| i.to_string()).collect();
                let _ = write!(
                    s,
                    "    /// Class labels of output `{o}`'s columns (ZipMap: column c of row r is the\n    \
                     /// value of class `{o}_LABELS[c]`).\n    \
                     pub const {o}_LABELS: &[i64] = &[{}];\n\n",
                    vals.join(", ")
                );
            }
        }
    }
    s
}

/// `setosa` → `Setosa`, `iris-virginica` → `IrisVirginica`; None if nothing is left or it
/// starts with a digit.
fn camel(label: &str) -> Option<String> {
    let mut out = String::new();
    let mut up = true;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        None
    } else {
        Some(out)
    }
}

/// A typed class enum for a ZipMap output with string labels whose names make distinct Rust
/// identifiers (else nothing): `<Out>Class`, its variants in column order.
fn class_enum(out_ident: &str, upper: &str, labels: &[&str]) -> String {
    let Some(vars) = labels
        .iter()
        .map(|l| camel(l))
        .collect::<Option<Vec<String>>>()
    else {
        return String::new();
    };
    let mut sorted = vars.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != vars.len() || vars.iter().any(|v| v == "Self") {
        return String::new();
    }
    let Some(ty) = camel(out_ident).map(|t| format!("{t}Class")) else {
        return String::new();
    };
    let n = vars.len();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "    /// The classes of output `{upper}`: variant c is column c (`{upper}_LABELS[c]`).\n    \
         #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n    \
         pub enum {ty} {{"
    );
    for (c, (v, l)) in vars.iter().zip(labels).enumerate() {
        let _ = writeln!(
            s,
            "        /// \"{}\"\n        {v} = {c},",
            l.escape_default()
        );
    }
    let _ = write!(
        s,
        "    }}\n\n    impl {ty} {{\n        \
         /// Every class, in column order.\n        \
         pub const ALL: [{ty}; {n}] = [{}];\n        \
         /// Its column in output `{upper}`.\n        \
         pub fn index(self) -> usize {{\n            self as usize\n        }}\n        \
         /// The class of column `c`.\n        \
         pub fn from_index(c: usize) -> Option<{ty}> {{\n            Self::ALL.get(c).copied()\n        }}\n        \
         /// The class whose label has string id `id` (a label output's element).\n        \
         pub fn from_id(id: i32) -> Option<{ty}> {{\n            \
         {upper}_LABEL_IDS.iter().position(|l| *l == id).and_then(Self::from_index)\n        }}\n        \
         /// The class label.\n        \
         pub fn name(self) -> &'static str {{\n            \
         match self {{\n{}            }}\n        }}\n    }}\n\n",
        vars.iter()
            .map(|v| format!("{ty}::{v}"))
            .collect::<Vec<_>>()
            .join(", "),
        vars.iter()
            .zip(labels)
            .map(|(v, l)| format!("                {ty}::{v} => \"{}\",\n", l.escape_default()))
            .collect::<String>()
    );
    s
}
