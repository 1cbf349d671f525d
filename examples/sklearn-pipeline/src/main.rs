//! Runs the iris pipeline compiled by build.rs through its typed Rust API: class labels come
//! back as string ids into the model's table (`iris::label`) and the ZipMap probabilities as
//! one [N, 3] array whose columns are the classes of `iris::OutputProbabilityClass`. Checks
//! them against scikit-learn's predictions saved by train.py in expected.txt.

include!(concat!(env!("OUT_DIR"), "/iris.rs"));

use iris::OutputProbabilityClass as Class;

/// One row of expected.txt: features, sklearn's label, its probabilities.
struct Row {
    x: [f32; 4],
    label: String,
    probs: Vec<f32>,
}

fn expected() -> Vec<Row> {
    include_str!("../expected.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |s: &str| s.parse::<f32>().expect("a number in expected.txt");
            Row {
                x: [num(f[0]), num(f[1]), num(f[2]), num(f[3])],
                label: f[4].to_string(),
                probs: f[5..].iter().map(|s| num(s)).collect(),
            }
        })
        .collect()
}

fn main() {
    let rows = expected();
    let n = rows.len();
    let x: Vec<f32> = rows.iter().flat_map(|r| r.x).collect();
    let mut labels = vec![0i32; n];
    let mut probs = vec![0f32; n * Class::ALL.len()];
    // The one dim parameter is the batch size (skl2onnx leaves it unnamed: `unk__0`).
    let mut scratch = vec![iris::ScratchBlock::ZERO; iris::scratch_blocks(n)];
    iris::run(n, &x, &mut labels, &mut probs, &mut scratch).expect("iris runs");

    let mut ok = true;
    for (r, row) in rows.iter().enumerate() {
        let name = iris::label(labels[r]).unwrap_or("?");
        let class = Class::from_id(labels[r]).expect("a label is one of the classes");
        let p = &probs[r * 3..r * 3 + 3];
        let probs_ok = p.iter().zip(&row.probs).all(|(g, w)| (g - w).abs() <= 1e-5);
        let row_ok = name == row.label && class.name() == name && probs_ok;
        ok &= row_ok;
        let shown: Vec<String> = Class::ALL
            .iter()
            .map(|c| format!("{}={:.4}", c.name(), p[c.index()]))
            .collect();
        println!(
            "{:?} -> {name:<10} ({}){}",
            row.x,
            shown.join(" "),
            if row_ok {
                String::new()
            } else {
                format!(
                    "  MISMATCH: scikit-learn says {} {:?}",
                    row.label, row.probs
                )
            }
        );
    }
    // Interning: a caller with string data turns it into ids without allocating.
    assert_eq!(iris::intern("virginica"), Class::Virginica.index() as i32);
    assert_eq!(iris::intern("daisy"), iris::STRING_UNKNOWN);
    let mut ids = [0i32; 3];
    iris::intern_all(&["setosa", "daisy", "versicolor"], &mut ids);
    assert_eq!(
        ids,
        [
            Class::Setosa.index() as i32,
            -3,
            Class::Versicolor.index() as i32
        ]
    );
    if ok {
        println!("all {n} rows match scikit-learn");
    } else {
        eprintln!("MISMATCH against scikit-learn's predictions");
        std::process::exit(1);
    }
}
