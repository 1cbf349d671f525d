//! The generic drivers `exec` links with artifacts (C for object files and C sources, Rust
//! for Rust sources) and their request/response files (format in the `exec` module
//! documentation). A driver reads one request file, calls entry `i` of its table on every
//! request, and writes and flushes one response per request. Entries are `NAME_run_parallel`
//! (`run_parallel_raw`): with `KILN_EXEC_THREADS` above 1 in the environment they get a
//! thread pool of that many threads (`bench/pool.h` in C, scoped threads in Rust), else null.

use super::{RunRequest, RunResult};

/// The request file for `entry`.
pub(super) fn encode_requests(entry: u32, reqs: &[RunRequest]) -> Vec<u8> {
    let mut b = b"KILNRQ01".to_vec();
    b.extend(entry.to_ne_bytes());
    b.extend((reqs.len() as u32).to_ne_bytes());
    for r in reqs {
        for n in [
            r.dims.len(),
            r.inputs.len(),
            r.output_bytes.len(),
            r.lens.len(),
        ] {
            b.extend((n as u32).to_ne_bytes());
        }
        for d in &r.dims {
            b.extend(d.to_ne_bytes());
        }
        for l in &r.lens {
            b.extend(l.to_ne_bytes());
        }
        for x in &r.inputs {
            b.extend((x.len() as u64).to_ne_bytes());
            b.extend(x);
        }
        for n in &r.output_bytes {
            b.extend((*n as u64).to_ne_bytes());
        }
    }
    b
}

/// Results in a response file, and whether it holds one for every request.
pub(super) fn decode_responses(data: &[u8], reqs: &[RunRequest]) -> (Vec<RunResult>, bool) {
    let mut out = vec![];
    if data.len() < 8 || &data[..8] != b"KILNRS01" {
        return (out, false);
    }
    let mut pos: usize = 8;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = data.get(pos..usize::checked_add(pos, n)?)?;
        pos += n;
        Some(s)
    };
    for r in reqs {
        let parsed = (|| {
            let status = i32::from_ne_bytes(take(4)?.try_into().ok()?);
            let n = u32::from_ne_bytes(take(4)?.try_into().ok()?) as usize;
            if n != r.output_bytes.len() {
                return None;
            }
            let mut outputs = vec![];
            for _ in 0..n {
                let len = u64::from_ne_bytes(take(8)?.try_into().ok()?) as usize;
                outputs.push(take(len)?.to_vec());
            }
            Some(RunResult { status, outputs })
        })();
        match parsed {
            Some(res) => out.push(res),
            None => return (out, false),
        }
    }
    (out, true)
}

pub(super) const C_DRIVER_MAIN: &str = r#"
static void kiln_die(const char *msg) {
    fprintf(stderr, "kiln driver: %s\n", msg);
    exit(3);
}
static void kiln_rd(void *p, size_t n, FILE *f) {
    if (n != 0 && fread(p, 1, n, f) != n) kiln_die("truncated request file");
}
static void kiln_wr(const void *p, size_t n, FILE *f) {
    if (n != 0 && fwrite(p, 1, n, f) != n) kiln_die("cannot write the response file");
}
static uint32_t kiln_rd_u32(FILE *f) {
    uint32_t v;
    kiln_rd(&v, sizeof v, f);
    return v;
}
static uint64_t kiln_rd_u64(FILE *f) {
    uint64_t v;
    kiln_rd(&v, sizeof v, f);
    return v;
}
/* Exactly n bytes (at least 1), 64-byte aligned, zeroed. */
static void *kiln_alloc(uint64_t n) {
    void *p = NULL;
    if (n > (uint64_t)SIZE_MAX - 64) kiln_die("allocation too large");
    if (posix_memalign(&p, 64, n == 0 ? 1 : (size_t)n) != 0 || p == NULL) kiln_die("out of memory");
    memset(p, 0, n == 0 ? 1 : (size_t)n);
    return p;
}

int main(int argc, char **argv) {
    char magic[8];
    FILE *in, *out;
    uint32_t entry, count, r, k;
    kiln_pool pool;
    kiln_parallel par;
    const kiln_parallel *parp = NULL;
    const char *threads = getenv("KILN_EXEC_THREADS");
    if (argc != 3) kiln_die("usage: driver REQUEST RESPONSE");
    if (threads != NULL && atoi(threads) > 1) {
        if (kiln_pool_start(&pool, (uint32_t)atoi(threads)) != 0) kiln_die("cannot start threads");
        par = kiln_pool_par(&pool);
        parp = &par;
    }
    in = fopen(argv[1], "rb");
    if (in == NULL) kiln_die("cannot open the request file");
    out = fopen(argv[2], "wb");
    if (out == NULL) kiln_die("cannot create the response file");
    kiln_rd(magic, 8, in);
    if (memcmp(magic, "KILNRQ01", 8) != 0) kiln_die("bad request file");
    kiln_wr("KILNRS01", 8, out);
    entry = kiln_rd_u32(in);
    count = kiln_rd_u32(in);
    if (entry >= kiln_n_entries) kiln_die("bad entry index");
    for (r = 0; r < count; r++) {
        uint32_t nd = kiln_rd_u32(in), ni = kiln_rd_u32(in), no = kiln_rd_u32(in), nl = kiln_rd_u32(in);
        int64_t *dims = (int64_t *)kiln_alloc((uint64_t)nd * 8);
        uint64_t *lens = (uint64_t *)kiln_alloc((uint64_t)nl * 8);
        void **ins = (void **)kiln_alloc(((uint64_t)ni + 1) * sizeof(void *));
        void **outs = (void **)kiln_alloc(((uint64_t)no + 1) * sizeof(void *));
        uint64_t *osz = (uint64_t *)kiln_alloc(((uint64_t)no + 1) * 8);
        void *scratch;
        int32_t status;
        kiln_rd(dims, (size_t)nd * 8, in);
        kiln_rd(lens, (size_t)nl * 8, in);
        for (k = 0; k < ni; k++) {
            uint64_t n = kiln_rd_u64(in);
            ins[k] = kiln_alloc(n);
            kiln_rd(ins[k], (size_t)n, in);
        }
        for (k = 0; k < no; k++) {
            osz[k] = kiln_rd_u64(in);
            outs[k] = kiln_alloc(osz[k]);
        }
        scratch = kiln_alloc((uint64_t)ni + no < nl ? lens[ni + no] : 0);
        status = kiln_entries[entry](nd == 0 ? NULL : dims, (const void *const *)ins, (void *const *)outs, scratch, lens, parp);
        kiln_wr(&status, sizeof status, out);
        kiln_wr(&no, sizeof no, out);
        for (k = 0; k < no; k++) {
            kiln_wr(&osz[k], sizeof osz[k], out);
            kiln_wr(outs[k], (size_t)osz[k], out);
        }
        if (fflush(out) != 0) kiln_die("cannot write the response file");
        for (k = 0; k < ni; k++) free(ins[k]);
        for (k = 0; k < no; k++) free(outs[k]);
        free(scratch);
        free(osz);
        free(outs);
        free(ins);
        free(lens);
        free(dims);
    }
    fclose(in);
    if (parp != NULL) kiln_pool_stop(&pool);
    if (fclose(out) != 0) kiln_die("cannot write the response file");
    return 0;
}
"#;

pub(super) const RUST_DRIVER_MAIN: &str = r#"
use std::io::Write;

/// Exactly `n` bytes (at least 1), 64-byte aligned, zeroed.
struct Buf {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Buf {
    fn new(n: u64) -> Buf {
        let n = usize::try_from(n).unwrap_or_else(|_| die("allocation too large")).max(1);
        let layout = std::alloc::Layout::from_size_align(n, 64).unwrap_or_else(|_| die("allocation too large"));
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            die("out of memory");
        }
        Buf { ptr, layout }
    }
    fn bytes(&self, n: usize) -> &[u8] {
        // SAFETY: `n` is at most the allocation's size, all initialized (zeroed or written).
        unsafe { std::slice::from_raw_parts(self.ptr, n.min(self.layout.size())) }
    }
    fn fill(&mut self, data: &[u8]) {
        let n = data.len().min(self.layout.size());
        // SAFETY: within the allocation.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, n) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("kiln driver: {msg}");
    std::process::exit(3)
}

struct Reader {
    data: Vec<u8>,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> &[u8] {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.unwrap_or_else(|| die("truncated request file"));
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_ne_bytes(self.take(4).try_into().unwrap_or([0; 4]))
    }
    fn u64(&mut self) -> u64 {
        u64::from_ne_bytes(self.take(8).try_into().unwrap_or([0; 8]))
    }
}

/// A parallel-for on scoped threads: task 0 on the caller, the others on threads of their
/// own (the tests' stand-in for a user's pool).
unsafe extern "C" fn scoped_run(
    _ctx: *mut std::ffi::c_void,
    n: u32,
    task: kiln_shim::parallel::Task,
    arg: *mut std::ffi::c_void,
) {
    let arg = arg as usize;
    std::thread::scope(|s| {
        for i in 1..n {
            s.spawn(move || unsafe { task(arg as *mut std::ffi::c_void, i) });
        }
        // SAFETY: the shim's task with its own argument.
        unsafe { task(arg as *mut std::ffi::c_void, 0) };
    });
}

fn main() {
    let threads: u32 = std::env::var("KILN_EXEC_THREADS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    let par = kiln_shim::parallel::Parallel {
        run: Some(scoped_run),
        ctx: std::ptr::null_mut(),
        threads,
    };
    let parp: *const kiln_shim::parallel::Parallel = if threads > 1 { &par } else { std::ptr::null() };
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        die("usage: driver REQUEST RESPONSE");
    }
    let data = std::fs::read(&args[1]).unwrap_or_else(|_| die("cannot read the request file"));
    let mut out = std::fs::File::create(&args[2]).unwrap_or_else(|_| die("cannot create the response file"));
    let mut rd = Reader { data, pos: 0 };
    if rd.take(8) != b"KILNRQ01" {
        die("bad request file");
    }
    let put = |out: &mut std::fs::File, b: &[u8]| {
        if out.write_all(b).is_err() {
            die("cannot write the response file");
        }
    };
    put(&mut out, b"KILNRS01");
    let entry = rd.u32() as usize;
    let count = rd.u32();
    let run = *ENTRIES.get(entry).unwrap_or_else(|| die("bad entry index"));
    for _ in 0..count {
        let (nd, ni, no, nl) = (rd.u32() as usize, rd.u32() as usize, rd.u32() as usize, rd.u32() as usize);
        let dims: Vec<i64> = (0..nd).map(|_| rd.u64() as i64).collect();
        let lens: Vec<u64> = (0..nl).map(|_| rd.u64()).collect();
        let mut ins = vec![];
        for _ in 0..ni {
            let n = rd.u64();
            let mut b = Buf::new(n);
            b.fill(rd.take(n as usize));
            ins.push(b);
        }
        let osz: Vec<u64> = (0..no).map(|_| rd.u64()).collect();
        let outs: Vec<Buf> = osz.iter().map(|&n| Buf::new(n)).collect();
        let scratch = Buf::new(if ni + no < nl { lens[ni + no] } else { 0 });
        let in_ptrs: Vec<*const u8> = ins.iter().map(|b| b.ptr as *const u8).collect();
        let out_ptrs: Vec<*mut u8> = outs.iter().map(|b| b.ptr).collect();
        let dims_ptr = if nd == 0 { std::ptr::null() } else { dims.as_ptr() };
        // SAFETY: buffers as the request describes them; the program validates the lengths.
        let status = unsafe { run(dims_ptr, in_ptrs.as_ptr(), out_ptrs.as_ptr(), scratch.ptr, lens.as_ptr(), parp) };
        put(&mut out, &status.to_ne_bytes());
        put(&mut out, &(no as u32).to_ne_bytes());
        for (b, &n) in outs.iter().zip(&osz) {
            put(&mut out, &n.to_ne_bytes());
            put(&mut out, b.bytes(n as usize));
        }
        if out.flush().is_err() {
            die("cannot write the response file");
        }
    }
}
"#;
