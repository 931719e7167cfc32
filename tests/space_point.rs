//! Reading points by name and type, and fitting users' points into a space.

use hyperflow::space::{Point, PointError, Space, Value};

fn point(entries: &[(&str, Value)]) -> Point {
    entries.iter().cloned().collect()
}

#[test]
fn get_converts_between_compatible_types() {
    let p = point(&[
        ("f", Value::Float(0.25)),
        ("whole", Value::Float(6.0)),
        ("i", Value::Int(-3)),
        ("s", Value::from("rbf")),
        ("b", Value::Bool(true)),
    ]);
    assert_eq!(p.get::<f64>("f").unwrap(), 0.25);
    assert_eq!(p.get::<f32>("f").unwrap(), 0.25f32);
    assert_eq!(p.get::<f64>("i").unwrap(), -3.0);
    assert_eq!(p.get::<i64>("i").unwrap(), -3);
    assert_eq!(p.get::<i8>("i").unwrap(), -3);
    // Quantized kinds yield integral reals, which read as integers.
    assert_eq!(p.get::<u32>("whole").unwrap(), 6);
    assert_eq!(p.get::<usize>("whole").unwrap(), 6);
    assert_eq!(p.get::<String>("s").unwrap(), "rbf");
    assert!(p.get::<bool>("b").unwrap());
    assert_eq!(p.get::<Value>("s").unwrap(), Value::from("rbf"));
}

#[test]
fn get_refuses_lossy_or_mismatched_reads() {
    let p = point(&[
        ("f", Value::Float(0.25)),
        ("i", Value::Int(-3)),
        ("big", Value::Int(300)),
        ("s", Value::from("rbf")),
        ("b", Value::Bool(false)),
    ]);
    let wrong = |e: PointError| match e {
        PointError::WrongType { name, wanted, .. } => (name, wanted),
        other => panic!("expected WrongType, got {other:?}"),
    };
    assert_eq!(wrong(p.get::<i64>("f").unwrap_err()), ("f".into(), "i64"));
    assert_eq!(wrong(p.get::<u32>("i").unwrap_err()), ("i".into(), "u32"));
    assert_eq!(wrong(p.get::<u8>("big").unwrap_err()), ("big".into(), "u8"));
    assert_eq!(wrong(p.get::<f64>("s").unwrap_err()), ("s".into(), "f64"));
    assert_eq!(
        wrong(p.get::<String>("b").unwrap_err()),
        ("b".into(), "String")
    );
    assert_eq!(wrong(p.get::<bool>("i").unwrap_err()), ("i".into(), "bool"));
    let e = p.get::<i64>("f").unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter `f` is 0.25, which cannot be read as i64"
    );

    let e = p.get::<f64>("nope").unwrap_err();
    assert_eq!(
        e,
        PointError::Missing {
            name: "nope".into()
        }
    );
    assert!(e.to_string().contains("conditional on a choice"));
}

fn without(p: &Point, name: &str) -> Point {
    p.iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| (n, v.clone()))
        .collect()
}

fn space() -> Space {
    Space::builder()
        .uniform("u", 0.0, 1.0)
        .quniform("q", 0.0, 10.0, 2.5)
        .lognormal("ln", 0.0, 1.0)
        .choice(
            "model",
            [
                ("svm", Space::builder().loguniform("C", 1e-2, 1e3)),
                ("tree", Space::builder().randint("min_leaf", 1, 20)),
            ],
        )
        .constant("n", 100)
        .build()
        .unwrap()
}

fn svm() -> Point {
    point(&[
        ("u", Value::Float(0.5)),
        ("q", Value::Int(5)),
        ("ln", Value::Float(2.0)),
        ("model", Value::from("svm")),
        ("C", Value::Float(1.0)),
        ("n", Value::Int(100)),
    ])
}

#[test]
fn encode_accepts_points_in_the_space() {
    let space = space();
    let x = space.encode(&svm()).unwrap();
    assert_eq!(x[..5], [0.5, 5.0, 2.0, 0.0, 1.0]);
    assert!(x[5].is_nan(), "min_leaf is inactive under svm");
    assert_eq!(space.decode(&x).get::<f64>("q").unwrap(), 5.0);

    let mut tree = without(&svm(), "C");
    tree.insert("model", "tree");
    tree.insert("min_leaf", 19);
    let x = space.encode(&tree).unwrap();
    assert!(x[4].is_nan());
    assert_eq!(x[5], 19.0);
}

#[test]
fn encode_reports_missing_unknown_and_out_of_space_values() {
    let space = space();

    let mut p = svm();
    p.insert("extra", 1);
    assert_eq!(
        space.encode(&p).unwrap_err(),
        PointError::UnknownParam {
            name: "extra".into()
        }
    );

    assert_eq!(
        space.encode(&without(&svm(), "C")).unwrap_err(),
        PointError::Missing { name: "C".into() }
    );

    let outside = |name: &str, value: Value| {
        let mut p = svm();
        p.insert(name, value);
        match space.encode(&p) {
            Err(PointError::OutOfSpace {
                name: n, expected, ..
            }) if n == name => expected,
            other => panic!("{name}: expected OutOfSpace, got {other:?}"),
        }
    };
    assert_eq!(outside("u", Value::Float(1.5)), "a number in [0, 1]");
    assert_eq!(outside("u", Value::from("0.5")), "a number in [0, 1]");
    assert_eq!(
        outside("q", Value::Float(3.0)),
        "a multiple of 2.5 in [0, 10]"
    );
    assert_eq!(
        outside("q", Value::Float(12.5)),
        "a multiple of 2.5 in [0, 10]"
    );
    assert_eq!(outside("ln", Value::Float(0.0)), "a positive number");
    assert_eq!(outside("C", Value::Float(1e4)), "a number in [0.01, 1000]");
    assert_eq!(
        outside("model", Value::from("knn")),
        "one of [\"svm\", \"tree\"]"
    );
    assert_eq!(outside("n", Value::Int(99)), "the constant 100");

    let mut tree = without(&svm(), "C");
    tree.insert("model", "tree");
    tree.insert("min_leaf", 20);
    let e = space.encode(&tree).unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter `min_leaf` = 20 is outside the space: expected an integer in [1, 20) (high is exclusive)"
    );
    tree.insert("min_leaf", 2.5);
    assert!(matches!(
        space.encode(&tree),
        Err(PointError::OutOfSpace { .. })
    ));
}

#[test]
fn deserialize_reports_what_does_not_fit() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Params {
        u: f64,
        missing: f64,
    }
    let e = svm().deserialize::<Params>().unwrap_err();
    assert!(
        matches!(&e, PointError::Deserialize { message } if message.contains("missing field `missing`")),
        "{e}"
    );

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        model: u32,
    }
    let e = svm().deserialize::<Typed>().unwrap_err();
    assert!(
        e.to_string().contains("invalid type: string \"svm\""),
        "{e}"
    );
}
