//! Dimensions: a polynomial with integer coefficients over the model's symbolic dims (`N`,
//! `batch`), kept in a canonical form so that equal sizes compare equal. A known dim is a
//! polynomial with only a constant term. Symbols stand for values ≥ 0, which lets the memory
//! planner compare sizes (`dominates`).

use crate::kir::{Expr, SymId};
use std::collections::BTreeMap;
use std::fmt;

/// Sum of `coef * product(syms)` terms. The key is the sorted list of symbols in a monomial
/// (empty for the constant term); zero coefficients are never stored.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Dim {
    terms: BTreeMap<Vec<SymId>, i64>,
}

impl Dim {
    pub fn known(v: i64) -> Dim {
        let mut terms = BTreeMap::new();
        if v != 0 {
            terms.insert(vec![], v);
        }
        Dim { terms }
    }
    pub fn sym(s: SymId) -> Dim {
        let mut terms = BTreeMap::new();
        terms.insert(vec![s], 1);
        Dim { terms }
    }
    /// The value if no symbol appears.
    pub fn as_known(&self) -> Option<i64> {
        match self.terms.len() {
            0 => Some(0),
            1 => self.terms.get(&vec![]).copied(),
            _ => None,
        }
    }
    pub fn is_known(&self) -> bool {
        self.as_known().is_some()
    }
    /// The symbol if this dim is exactly one symbol.
    pub fn as_sym(&self) -> Option<SymId> {
        if self.terms.len() == 1 {
            if let Some((k, 1)) = self.terms.iter().next() {
                if k.len() == 1 {
                    return Some(k[0]);
                }
            }
        }
        None
    }
    pub fn syms(&self) -> Vec<SymId> {
        let mut v: Vec<SymId> = self.terms.keys().flatten().copied().collect();
        v.sort();
        v.dedup();
        v
    }
    fn normalise(mut self) -> Dim {
        self.terms.retain(|_, c| *c != 0);
        self
    }
    pub fn add(&self, o: &Dim) -> Dim {
        let mut t = self.terms.clone();
        for (k, c) in &o.terms {
            let e = t.entry(k.clone()).or_insert(0);
            *e = e.wrapping_add(*c);
        }
        Dim { terms: t }.normalise()
    }
    pub fn sub(&self, o: &Dim) -> Dim {
        self.add(&o.scale(-1))
    }
    pub fn scale(&self, f: i64) -> Dim {
        Dim {
            terms: self
                .terms
                .iter()
                .map(|(k, c)| (k.clone(), c.wrapping_mul(f)))
                .collect(),
        }
        .normalise()
    }
    pub fn mul(&self, o: &Dim) -> Dim {
        let mut t: BTreeMap<Vec<SymId>, i64> = BTreeMap::new();
        for (ka, ca) in &self.terms {
            for (kb, cb) in &o.terms {
                let mut k = ka.clone();
                k.extend(kb.iter().copied());
                k.sort();
                let e = t.entry(k).or_insert(0);
                *e = e.wrapping_add(ca.wrapping_mul(*cb));
            }
        }
        Dim { terms: t }.normalise()
    }
    /// Exact division: by a constant when every coefficient divides, or by a single monomial
    /// that divides every term. None when not exact.
    pub fn div_exact(&self, o: &Dim) -> Option<Dim> {
        if o.terms.len() != 1 {
            if o == self && !o.terms.is_empty() {
                return Some(Dim::known(1));
            }
            return None;
        }
        let (ok, oc) = o.terms.iter().next()?;
        let mut t = BTreeMap::new();
        for (k, c) in &self.terms {
            if c % oc != 0 {
                return None;
            }
            let mut k2 = k.clone();
            for s in ok {
                let pos = k2.iter().position(|x| x == s)?;
                k2.remove(pos);
            }
            t.insert(k2, c / oc);
        }
        Some(Dim { terms: t }.normalise())
    }
    /// True when `self >= o` for every assignment of values ≥ 0 to the symbols (a sufficient
    /// test: every coefficient of `self - o` is ≥ 0).
    pub fn dominates(&self, o: &Dim) -> bool {
        self.sub(o).terms.values().all(|c| *c >= 0)
    }
    /// Round every coefficient up to a multiple of `a`: the result is ≥ self and a multiple of
    /// `a` for all symbol values (self must have non-negative coefficients).
    pub fn round_up_coefs(&self, a: i64) -> Dim {
        Dim {
            terms: self
                .terms
                .iter()
                .map(|(k, c)| (k.clone(), (c + a - 1) / a * a))
                .collect(),
        }
        .normalise()
    }
    /// Value with every symbol set by `val` (checked: None on overflow).
    pub fn eval(&self, val: &dyn Fn(SymId) -> i64) -> Option<i64> {
        let mut acc: i64 = 0;
        for (k, c) in &self.terms {
            let mut m = *c;
            for s in k {
                m = m.checked_mul(val(*s))?;
            }
            acc = acc.checked_add(m)?;
        }
        Some(acc)
    }
    /// All coefficients ≥ 0 (true for every size).
    pub fn nonneg(&self) -> bool {
        self.terms.values().all(|c| *c >= 0)
    }
    /// The kir I64 expression computing this dim at run time.
    pub fn to_expr(&self) -> Expr {
        let mut acc: Option<Expr> = None;
        for (k, c) in &self.terms {
            let mut m: Option<Expr> = if *c == 1 && !k.is_empty() {
                None
            } else {
                Some(Expr::i64(*c))
            };
            for s in k {
                m = Some(match m {
                    None => Expr::Dim(*s),
                    Some(e) => crate::kir::build::mul(e, Expr::Dim(*s)),
                });
            }
            let m = m.unwrap_or(Expr::i64(1));
            acc = Some(match acc {
                None => m,
                Some(a) => crate::kir::build::add(a, m),
            });
        }
        acc.unwrap_or(Expr::i64(0))
    }
    /// Display with symbol names.
    pub fn show(&self, names: &[String]) -> String {
        if self.terms.is_empty() {
            return "0".into();
        }
        let mut parts = vec![];
        for (k, c) in &self.terms {
            let mut s = String::new();
            if k.is_empty() || *c != 1 {
                s.push_str(&c.to_string());
            }
            for sy in k {
                if !s.is_empty() {
                    s.push('*');
                }
                s.push_str(names.get(sy.0 as usize).map(|x| x.as_str()).unwrap_or("?"));
            }
            parts.push(s);
        }
        parts.join(" + ")
    }
}

impl fmt::Debug for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
        f.write_str(&self.show(&names))
    }
}

impl From<i64> for Dim {
    fn from(v: i64) -> Dim {
        Dim::known(v)
    }
}

/// Product of dims.
pub fn numel(shape: &[Dim]) -> Dim {
    shape.iter().fold(Dim::known(1), |a, d| a.mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn algebra() {
        let n = Dim::sym(SymId(0));
        let m = Dim::sym(SymId(1));
        let a = n.scale(6).mul(&m);
        assert_eq!(a.div_exact(&Dim::known(3)), Some(n.scale(2).mul(&m)));
        assert_eq!(a.div_exact(&n), Some(m.scale(6)));
        assert_eq!(a.div_exact(&Dim::known(4)), None);
        assert!(n.scale(2).add(&Dim::known(1)).dominates(&n));
        assert!(!n.dominates(&Dim::known(1)));
        assert_eq!(n.add(&n.scale(-1)).as_known(), Some(0));
        assert_eq!(n.scale(3).round_up_coefs(64), n.scale(64));
        assert_eq!(a.eval(&|s| if s.0 == 0 { 2 } else { 5 }), Some(60));
    }
}
