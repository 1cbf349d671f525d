//! Explicit IEEE-754 / C99 Annex F special cases of every kiln-shim function, for both
//! precisions, compared bit for bit (so signed zeros count), plus the C exports.

use kiln_shim as shim;

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;
const PIO2: f64 = std::f64::consts::FRAC_PI_2;
const PI: f64 = std::f64::consts::PI;

fn same64(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}
fn same32(got: f32, want: f32) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}

/// f(x) must be exactly `want` in f64, and f32(x) exactly `want as f32`.
#[track_caller]
fn c1(name: &str, f32s: fn(f32) -> f32, f64s: fn(f64) -> f64, x: f64, want: f64) {
    let got = f64s(x);
    assert!(same64(got, want), "{name}({x:e}) = {got:e}, want {want:e}");
    let got = f32s(x as f32);
    let want = want as f32;
    assert!(same32(got, want), "{name}f({x:e}) = {got:e}, want {want:e}");
}

#[track_caller]
fn c2(name: &str, f32s: fn(f32, f32) -> f32, f64s: fn(f64, f64) -> f64, x: f64, y: f64, want: f64) {
    let got = f64s(x, y);
    assert!(
        same64(got, want),
        "{name}({x:e}, {y:e}) = {got:e}, want {want:e}"
    );
    let got = f32s(x as f32, y as f32);
    let want = want as f32;
    assert!(
        same32(got, want),
        "{name}f({x:e}, {y:e}) = {got:e}, want {want:e}"
    );
}

#[test]
fn exp_special() {
    let e = |x, w| c1("exp", shim::expf, shim::exp, x, w);
    e(NAN, NAN);
    e(INF, INF);
    e(-INF, 0.0);
    e(0.0, 1.0);
    e(-0.0, 1.0);
    e(1000.0, INF);
    e(-1000.0, 0.0);
    assert_eq!(shim::exp(709.78), 1.7928227943945155e308);
    assert_eq!(shim::exp(709.8), INF);
    assert_eq!(shim::exp(-745.2), 0.0);
    let sub = shim::exp(-740.0);
    assert!(
        sub > 0.0 && sub < f64::MIN_POSITIVE,
        "exp(-740) = {sub:e} is subnormal"
    );
    assert_eq!(shim::expf(89.0), f32::INFINITY);
    assert_eq!(shim::expf(88.7), 3.3259769e38);
    assert_eq!(shim::expf(-104.0), 0.0);
    let sub = shim::expf(-100.0);
    assert!(
        sub > 0.0 && sub < f32::MIN_POSITIVE,
        "expf(-100) = {sub:e} is subnormal"
    );
}

#[test]
fn log_special() {
    let l = |x, w| c1("log", shim::logf, shim::log, x, w);
    l(NAN, NAN);
    l(0.0, -INF);
    l(-0.0, -INF);
    l(-1.0, NAN);
    l(-INF, NAN);
    assert!(shim::log(-5e-324).is_nan());
    l(INF, INF);
    l(1.0, 0.0); // +0
    assert_eq!(shim::log(5e-324), -744.4400719213812);
    assert_eq!(shim::logf(1e-45), -103.27893);
    assert_eq!(shim::log(f64::MAX), 709.782712893384);
}

#[test]
fn tanh_special() {
    let t = |x, w| c1("tanh", shim::tanhf, shim::tanh, x, w);
    t(NAN, NAN);
    t(INF, 1.0);
    t(-INF, -1.0);
    t(0.0, 0.0);
    t(-0.0, -0.0);
    t(30.0, 1.0);
    t(-30.0, -1.0);
    t(1e-300, 1e-300);
    t(-5e-324, -5e-324);
}

#[test]
fn pow_special() {
    let p = |x, y, w| c2("pow", shim::powf, shim::pow, x, y, w);
    // pow(x, +-0) = 1 for any x, even NaN
    for x in [NAN, INF, -INF, 0.0, -0.0, -3.0, 2.5] {
        p(x, 0.0, 1.0);
        p(x, -0.0, 1.0);
    }
    // pow(1, y) = 1 for any y, even NaN
    for y in [NAN, INF, -INF, 0.5, -7.0, 1e300] {
        p(1.0, y, 1.0);
    }
    // NaN otherwise propagates
    p(NAN, 1.0, NAN);
    p(2.0, NAN, NAN);
    p(-1.0, NAN, NAN);
    // pow(-1, +-inf) = 1
    p(-1.0, INF, 1.0);
    p(-1.0, -INF, 1.0);
    // negative base
    p(-2.0, 3.0, -8.0);
    p(-2.0, 2.0, 4.0);
    p(-2.0, -3.0, -0.125);
    p(-2.0, 0.5, NAN);
    p(-8.0, 1.0 / 3.0, NAN);
    p(-1.0, 1e300, 1.0); // huge even integer
    p(-1.0, f64::MAX, 1.0);
    p(-0.5, 2f64.powi(60), 0.0);
    // zero base
    p(0.0, -1.0, INF);
    p(-0.0, -1.0, -INF);
    p(-0.0, -3.0, -INF);
    p(-0.0, -2.0, INF);
    p(0.0, -0.5, INF);
    p(-0.0, -0.5, INF);
    p(0.0, -INF, INF);
    p(-0.0, -INF, INF);
    p(0.0, 3.0, 0.0);
    p(-0.0, 3.0, -0.0);
    p(-0.0, 2.0, 0.0);
    p(-0.0, 0.5, 0.0);
    p(0.0, INF, 0.0);
    // infinite exponent
    p(0.5, INF, 0.0);
    p(-0.5, INF, 0.0);
    p(0.5, -INF, INF);
    p(2.0, INF, INF);
    p(-2.0, INF, INF);
    p(2.0, -INF, 0.0);
    // infinite base
    p(INF, -1.0, 0.0);
    p(INF, 0.5, INF);
    p(-INF, 3.0, -INF);
    p(-INF, 2.0, INF);
    p(-INF, 0.5, INF);
    p(-INF, -3.0, -0.0);
    p(-INF, -2.0, 0.0);
    p(-INF, -0.5, 0.0);
    // overflow / underflow
    p(10.0, 400.0, INF);
    p(10.0, -400.0, 0.0);
    p(-10.0, 401.0, -INF);
    p(-10.0, -401.0, -0.0);
    assert_eq!(shim::powf(2.0, 128.0), f32::INFINITY);
    assert_eq!(shim::powf(2.0, 127.0), 1.7014118e38);
    assert_eq!(shim::powf(2.0, -149.0), f32::from_bits(1));
    assert_eq!(shim::powf(2.0, -150.0), 0.0); // ties to even
    assert_eq!(shim::pow(2.0, -1074.0), 5e-324);
    assert_eq!(shim::pow(2.0, 1023.0), 2f64.powi(1023));
    assert_eq!(shim::pow(2.0, 1024.0), INF);
    // exact cases
    p(3.0, 4.0, 81.0);
    p(2.0, 0.5, std::f64::consts::SQRT_2);
    p(4.0, 0.5, 2.0);
    p(10.0, 15.0, 1e15);
    p(10.0, -2.0, 0.01);
}

#[test]
fn erf_special() {
    let e = |x, w| c1("erf", shim::erff, shim::erf, x, w);
    e(NAN, NAN);
    e(INF, 1.0);
    e(-INF, -1.0);
    e(0.0, 0.0);
    e(-0.0, -0.0);
    e(6.0, 1.0);
    e(-30.0, -1.0);
    e(1e-300, 1.1283791670955126e-300);
    e(0.5, 0.5204998778130465);
    e(1.0, 0.8427007929497149);
    e(2.0, 0.9953222650189527);
}

#[test]
fn trig_special() {
    for (name, f32s, f64s) in [
        (
            "sin",
            shim::sinf as fn(f32) -> f32,
            shim::sin as fn(f64) -> f64,
        ),
        ("cos", shim::cosf, shim::cos),
        ("tan", shim::tanf, shim::tan),
    ] {
        c1(name, f32s, f64s, NAN, NAN);
        c1(name, f32s, f64s, INF, NAN);
        c1(name, f32s, f64s, -INF, NAN);
    }
    c1("sin", shim::sinf, shim::sin, 0.0, 0.0);
    c1("sin", shim::sinf, shim::sin, -0.0, -0.0);
    c1("tan", shim::tanf, shim::tan, -0.0, -0.0);
    c1("cos", shim::cosf, shim::cos, -0.0, 1.0);
    c1("sin", shim::sinf, shim::sin, -5e-324, -5e-324);
    // classic hard arguments (expected values from a 400-bit mpmath evaluation)
    assert_eq!(shim::sin(1e22), -0.8522008497671888);
    assert_eq!(shim::cos(1e22), 0.523214785395139);
    assert_eq!(shim::sin(f64::MAX), 0.004961954789184062);
    assert_eq!(shim::cos(f64::MAX), -0.9999876894265599);
    assert_eq!(shim::tan(f64::MAX), -0.004962015874444895);
    assert_eq!(shim::sinf(f32::MAX), -0.5218765);
    // closest double to pi/2 multiples
    assert_eq!(shim::cos(PIO2), 6.123233995736766e-17);
    assert_eq!(shim::sin(PI), 1.2246467991473532e-16);
    assert_eq!(shim::tan(PIO2), 1.633123935319537e16);
    // always finite and in range for finite input
    let mut x = 1.0f64;
    while x.is_finite() {
        for v in [x, -x, x * 1.234567] {
            let (s, c) = (shim::sin(v), shim::cos(v));
            assert!(
                (-1.0..=1.0).contains(&s) && (-1.0..=1.0).contains(&c),
                "{v:e}"
            );
            assert!(shim::tan(v).is_finite());
        }
        x *= 1.7;
    }
}

#[test]
fn inverse_trig_special() {
    for (name, f32s, f64s) in [
        (
            "asin",
            shim::asinf as fn(f32) -> f32,
            shim::asin as fn(f64) -> f64,
        ),
        ("acos", shim::acosf, shim::acos),
    ] {
        for x in [NAN, 2.0, -2.0, INF, -INF] {
            c1(name, f32s, f64s, x, NAN);
        }
        assert!(f64s(1.0000000000000002).is_nan() && f64s(-1.0000000000000002).is_nan());
    }
    assert!(shim::asinf(1.0000001).is_nan());
    assert!(shim::acosf(-1.0000001).is_nan());
    c1("asin", shim::asinf, shim::asin, 1.0, PIO2);
    c1("asin", shim::asinf, shim::asin, -1.0, -PIO2);
    c1("asin", shim::asinf, shim::asin, 0.0, 0.0);
    c1("asin", shim::asinf, shim::asin, -0.0, -0.0);
    c1("acos", shim::acosf, shim::acos, 1.0, 0.0);
    c1("acos", shim::acosf, shim::acos, -1.0, PI);
    c1("acos", shim::acosf, shim::acos, 0.0, PIO2);
    c1("acos", shim::acosf, shim::acos, -0.0, PIO2);
    c1(
        "acos",
        shim::acosf,
        shim::acos,
        0.5,
        std::f64::consts::FRAC_PI_3,
    );
    c1("atan", shim::atanf, shim::atan, NAN, NAN);
    c1("atan", shim::atanf, shim::atan, INF, PIO2);
    c1("atan", shim::atanf, shim::atan, -INF, -PIO2);
    c1("atan", shim::atanf, shim::atan, 0.0, 0.0);
    c1("atan", shim::atanf, shim::atan, -0.0, -0.0);
    c1(
        "atan",
        shim::atanf,
        shim::atan,
        1.0,
        std::f64::consts::FRAC_PI_4,
    );
    c1("atan", shim::atanf, shim::atan, -1e300, -PIO2);
}

#[test]
fn hyperbolic_special() {
    let sh = |x, w| c1("sinh", shim::sinhf, shim::sinh, x, w);
    sh(NAN, NAN);
    sh(0.0, 0.0);
    sh(-0.0, -0.0);
    sh(INF, INF);
    sh(-INF, -INF);
    sh(711.0, INF);
    sh(-711.0, -INF);
    assert_eq!(shim::sinh(710.0), 1.1169973830808555e308);
    assert_eq!(shim::sinhf(89.5), f32::INFINITY);
    let ch = |x, w| c1("cosh", shim::coshf, shim::cosh, x, w);
    ch(NAN, NAN);
    ch(0.0, 1.0);
    ch(-0.0, 1.0);
    ch(INF, INF);
    ch(-INF, INF);
    ch(711.0, INF);
    assert_eq!(shim::cosh(-710.4), 1.6663642832806496e308);
    assert_eq!(shim::coshf(-89.5), f32::INFINITY);
    let ash = |x, w| c1("asinh", shim::asinhf, shim::asinh, x, w);
    ash(NAN, NAN);
    ash(0.0, 0.0);
    ash(-0.0, -0.0);
    ash(INF, INF);
    ash(-INF, -INF);
    assert_eq!(shim::asinh(-f64::MAX), -710.475860073944);
    let ach = |x, w| c1("acosh", shim::acoshf, shim::acosh, x, w);
    ach(NAN, NAN);
    ach(1.0, 0.0);
    ach(INF, INF);
    ach(0.9999999, NAN);
    ach(0.0, NAN);
    ach(-1.0, NAN);
    ach(-INF, NAN);
    assert_eq!(shim::acosh(f64::MAX), 710.475860073944);
    let ath = |x, w| c1("atanh", shim::atanhf, shim::atanh, x, w);
    ath(NAN, NAN);
    ath(0.0, 0.0);
    ath(-0.0, -0.0);
    ath(1.0, INF);
    ath(-1.0, -INF);
    assert!(shim::atanh(1.0000000000000002).is_nan());
    ath(-1.5, NAN);
    ath(INF, NAN);
    ath(-INF, NAN);
    assert!(shim::atanhf(1.0000001).is_nan());
}

#[test]
fn fmod_special() {
    let m = |x, y, w| c2("fmod", shim::fmodf, shim::fmod, x, y, w);
    for x in [0.0, -0.0, 1.0, -3.5, INF, -INF, NAN] {
        m(x, 0.0, NAN);
        m(x, -0.0, NAN);
        m(x, NAN, NAN);
    }
    for y in [1.0, -1.0, 0.5, INF, -INF] {
        m(INF, y, NAN);
        m(-INF, y, NAN);
        m(NAN, y, NAN);
    }
    m(5.0, INF, 5.0);
    m(-5.0, -INF, -5.0);
    m(0.0, 3.0, 0.0);
    m(-0.0, 3.0, -0.0);
    m(-6.0, 3.0, -0.0);
    m(6.0, -3.0, 0.0);
    m(-7.0, 3.0, -1.0);
    m(7.0, -3.0, 1.0);
    m(5.5, 2.0, 1.5);
    m(-5.5, 2.0, -1.5);
    m(1.0, 3.0, 1.0);
    // exactness where x - trunc(x/y)*y would go wrong
    assert_eq!(shim::fmod(1e300, 3.0), 1e300 % 3.0);
    assert_eq!(shim::fmod(f64::MAX, 5e-324), 0.0);
    assert_eq!(shim::fmod(f64::MAX, 1.5e-323), f64::MAX % 1.5e-323);
    assert_eq!(shim::fmod(0.1, 1e-300), 0.1 % 1e-300);
    assert_eq!(shim::fmodf(f32::MAX, 1e-45), 0.0);
    assert_eq!(shim::fmodf(3.4e38, 7.0), (3.4e38f32 as f64 % 7.0) as f32);
    assert_eq!(shim::fmodf(-1e10, 3.3), -1e10f32 % 3.3f32);
}

#[test]
fn c_exports_match_rust_functions() {
    assert_eq!(shim::kiln_shim_abi_version(), 10);
    assert_eq!(shim::KILN_SHIM_ABI_VERSION, 10);
    type F32 = fn(f32) -> f32;
    type F64 = fn(f64) -> f64;
    type C32 = extern "C" fn(f32) -> f32;
    type C64 = extern "C" fn(f64) -> f64;
    let unary: [(C32, F32, C64, F64); 15] = [
        (
            shim::kiln_shim_expf,
            shim::expf,
            shim::kiln_shim_exp,
            shim::exp,
        ),
        (
            shim::kiln_shim_logf,
            shim::logf,
            shim::kiln_shim_log,
            shim::log,
        ),
        (
            shim::kiln_shim_tanhf,
            shim::tanhf,
            shim::kiln_shim_tanh,
            shim::tanh,
        ),
        (
            shim::kiln_shim_erff,
            shim::erff,
            shim::kiln_shim_erf,
            shim::erf,
        ),
        (
            shim::kiln_shim_sinf,
            shim::sinf,
            shim::kiln_shim_sin,
            shim::sin,
        ),
        (
            shim::kiln_shim_cosf,
            shim::cosf,
            shim::kiln_shim_cos,
            shim::cos,
        ),
        (
            shim::kiln_shim_tanf,
            shim::tanf,
            shim::kiln_shim_tan,
            shim::tan,
        ),
        (
            shim::kiln_shim_asinf,
            shim::asinf,
            shim::kiln_shim_asin,
            shim::asin,
        ),
        (
            shim::kiln_shim_acosf,
            shim::acosf,
            shim::kiln_shim_acos,
            shim::acos,
        ),
        (
            shim::kiln_shim_atanf,
            shim::atanf,
            shim::kiln_shim_atan,
            shim::atan,
        ),
        (
            shim::kiln_shim_sinhf,
            shim::sinhf,
            shim::kiln_shim_sinh,
            shim::sinh,
        ),
        (
            shim::kiln_shim_coshf,
            shim::coshf,
            shim::kiln_shim_cosh,
            shim::cosh,
        ),
        (
            shim::kiln_shim_asinhf,
            shim::asinhf,
            shim::kiln_shim_asinh,
            shim::asinh,
        ),
        (
            shim::kiln_shim_acoshf,
            shim::acoshf,
            shim::kiln_shim_acosh,
            shim::acosh,
        ),
        (
            shim::kiln_shim_atanhf,
            shim::atanhf,
            shim::kiln_shim_atanh,
            shim::atanh,
        ),
    ];
    let xs = [-3.7, -1.0, -0.3, 0.0, 0.25, 0.9, 1.5, 42.0];
    for (cf, rf, cd, rd) in unary {
        for x in xs {
            assert!(same32(cf(x as f32), rf(x as f32)));
            assert!(same64(cd(x), rd(x)));
        }
    }
    for (x, y) in [(2.0, 3.0), (-2.5, 2.0), (7.25, -0.5)] {
        assert!(same32(
            shim::kiln_shim_powf(x as f32, y as f32),
            shim::powf(x as f32, y as f32)
        ));
        assert!(same64(shim::kiln_shim_pow(x, y), shim::pow(x, y)));
        assert!(same32(
            shim::kiln_shim_fmodf(x as f32, y as f32),
            shim::fmodf(x as f32, y as f32)
        ));
        assert!(same64(shim::kiln_shim_fmod(x, y), shim::fmod(x, y)));
    }
}
