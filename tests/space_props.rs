//! Property tests for spaces: random valid spaces (every kind, choices nested three deep)
//! sample points that lie in the space, and survive TOML and JSON round trips.

use hyperflow::rng::TrialRng;
use hyperflow::space::{ChoiceOption, Dist, Point, Space, SpaceBuilder, Value};
use proptest::prelude::*;

/// A parameter before it is named: names are given in declaration order afterwards, so
/// they are unique by construction.
#[derive(Debug, Clone)]
enum Node {
    Uniform(f64, f64),
    LogUniform(f64, f64),
    QUniform(f64, f64, f64),
    QLogUniform(f64, f64, f64),
    Normal(f64, f64),
    LogNormal(f64, f64),
    RandInt(i64, i64),
    Const(Value),
    Choice(Vec<(Value, Vec<Node>)>),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1000i64..1000).prop_map(Value::Int),
        (-1e6f64..1e6).prop_map(Value::Float),
        "[a-z]{0,6}( [A-Z]{1,3})?".prop_map(Value::Str),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        (-1e3f64..1e3, 1e-3f64..1e3).prop_map(|(low, w)| Node::Uniform(low, low + w)),
        (1e-6f64..10.0, 1.01f64..1e4).prop_map(|(low, f)| Node::LogUniform(low, low * f)),
        (-100f64..100.0, 0.05f64..5.0, 2u32..50).prop_map(|(low, q, k)| Node::QUniform(
            low,
            low + q * f64::from(k),
            q
        )),
        // Decimal bounds on a decimal step, where `low / q` rounds across an integer.
        (
            -300i32..300,
            15i32..200,
            prop::sample::select(vec![0.1, 0.2, 0.05, 0.3, 0.7])
        )
            .prop_map(|(k, w, q)| Node::QUniform(
                f64::from(k) / 10.0,
                f64::from(k + w) / 10.0,
                q
            )),
        (0.01f64..10.0, 0.01f64..5.0, 2u32..50).prop_map(|(low, q, k)| Node::QLogUniform(
            low,
            low + q * f64::from(k),
            q
        )),
        (-100f64..100.0, 0.01f64..100.0).prop_map(|(mu, s)| Node::Normal(mu, s)),
        (-5f64..5.0, 0.01f64..3.0).prop_map(|(mu, s)| Node::LogNormal(mu, s)),
        (-1000i64..1000, 1i64..100).prop_map(|(low, w)| Node::RandInt(low, low + w)),
        scalar().prop_map(Node::Const),
    ]
}

/// Up to three parameters; with `depth > 0` some are choices whose options carry
/// sub-spaces of depth `depth - 1`.
fn nodes(depth: u32) -> BoxedStrategy<Vec<Node>> {
    let node = if depth == 0 {
        leaf().boxed()
    } else {
        prop_oneof![3 => leaf(), 2 => choice(depth)].boxed()
    };
    prop::collection::vec(node, 0..4).boxed()
}

fn choice(depth: u32) -> impl Strategy<Value = Node> {
    let sub = prop_oneof![Just(Vec::new()), nodes(depth - 1)];
    prop::collection::vec((scalar(), sub), 1..4).prop_map(|options| {
        // Options must be distinct, numerically equal ones (`2`, `2.0`) included.
        let mut kept: Vec<(Value, Vec<Node>)> = Vec::new();
        for (value, sub) in options {
            let same = |o: &Value| match (o.as_f64(), value.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => *o == value,
            };
            if !kept.iter().any(|(o, _)| same(o)) {
                kept.push((value, sub));
            }
        }
        Node::Choice(kept)
    })
}

/// Names that need quoting in TOML now and then, to exercise the writer's keys.
fn name(counter: &mut usize) -> String {
    *counter += 1;
    match *counter % 3 {
        0 => format!("p{counter}"),
        1 => format!("p-{counter}.a"),
        _ => format!("p {counter}/b"),
    }
}

fn builder(nodes: &[Node], counter: &mut usize) -> SpaceBuilder {
    let mut b = Space::builder();
    for node in nodes {
        let n = name(counter);
        b = match node {
            Node::Uniform(low, high) => b.uniform(n, *low, *high),
            Node::LogUniform(low, high) => b.loguniform(n, *low, *high),
            Node::QUniform(low, high, q) => b.quniform(n, *low, *high, *q),
            Node::QLogUniform(low, high, q) => b.qloguniform(n, *low, *high, *q),
            Node::Normal(mu, sigma) => b.normal(n, *mu, *sigma),
            Node::LogNormal(mu, sigma) => b.lognormal(n, *mu, *sigma),
            Node::RandInt(low, high) => b.randint(n, *low, *high),
            Node::Const(v) => b.constant(n, v.clone()),
            Node::Choice(options) => {
                let options: Vec<ChoiceOption> = options
                    .iter()
                    .map(|(v, sub)| ChoiceOption::new(v.clone(), builder(sub, counter)))
                    .collect();
                b.choice(n, options)
            }
        };
    }
    b
}

fn space() -> impl Strategy<Value = Space> {
    nodes(3).prop_map(|nodes| {
        builder(&nodes, &mut 0)
            .build()
            .unwrap_or_else(|e| panic!("generated an invalid space: {e}"))
    })
}

/// Whether parameter `i` should be active, judged from the decoded point alone: its
/// parent is present and holds the option it hangs off.
fn should_be_active(space: &Space, point: &Point, i: usize) -> bool {
    match space.params()[i].parent {
        None => true,
        Some(c) => {
            let parent = &space.params()[c.param];
            let Dist::Choice { options } = &parent.dist else {
                panic!("parent of {} is not a choice", space.params()[i].name)
            };
            point.value(&parent.name) == Some(&options[c.option])
        }
    }
}

fn multiple_of(x: f64, q: f64) -> bool {
    ((x / q).round() * q - x).abs() <= 1e-9 * q.max(x.abs())
}

fn check_value(dist: &Dist, value: &Value) -> Result<(), String> {
    let ok = match (dist, value) {
        (Dist::Uniform { low, high }, Value::Float(x)) => low <= x && x <= high,
        (Dist::LogUniform { low, high }, Value::Float(x)) => low <= x && x <= high && *x > 0.0,
        (Dist::QUniform { low, high, q }, Value::Float(x)) => {
            low <= x && x <= high && multiple_of(*x, *q)
        }
        (Dist::QLogUniform { low, high, q }, Value::Float(x)) => {
            low <= x && x <= high && multiple_of(*x, *q) && *x > 0.0
        }
        (Dist::Normal { .. }, Value::Float(x)) => x.is_finite(),
        (Dist::LogNormal { .. }, Value::Float(x)) => x.is_finite() && *x > 0.0,
        (Dist::RandInt { low, high }, Value::Int(i)) => low <= i && i < high,
        (Dist::Choice { options }, v) => options.contains(v),
        (Dist::Const(c), v) => c == v,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{value:?} does not fit {dist:?}"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sampled_points_lie_in_their_space(space in space(), seed in any::<u64>()) {
        for trial in 0..8 {
            let mut rng = TrialRng::for_trial(seed, trial);
            let x = space.sample_prior(&mut rng);
            prop_assert_eq!(x.len(), space.len());
            let point = space.decode(&x);

            let encoded = space.encode(&point).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let bits = |v: &[f64]| v.iter().map(|x| if x.is_nan() { None } else { Some(x.to_bits()) }).collect::<Vec<_>>();
            prop_assert_eq!(bits(&encoded), bits(&x), "point {}", point);

            let mut order = Vec::new();
            for (i, p) in space.params().iter().enumerate() {
                let active = should_be_active(&space, &point, i);
                prop_assert_eq!(space.is_active(i, &x), active);
                prop_assert_eq!(x[i].is_nan(), !active);
                match point.value(&p.name) {
                    Some(value) => {
                        prop_assert!(active, "inactive {} is in {}", p.name, point);
                        check_value(&p.dist, value).map_err(TestCaseError::fail)?;
                        order.push(p.name.as_str());
                    }
                    None => prop_assert!(!active, "active {} is missing from {}", p.name, point),
                }
            }
            let names: Vec<&str> = point.iter().map(|(n, _)| n).collect();
            prop_assert_eq!(names, order, "the point follows the space's order");
        }
    }

    #[test]
    fn grid_values_lie_in_their_space(space in space()) {
        for p in space.params() {
            let Some(grid) = p.dist.grid() else { continue };
            prop_assert!(!grid.is_empty(), "{} has an empty grid", p.name);
            for &x in &grid {
                prop_assert_eq!(p.dist.snap(x).to_bits(), x.to_bits(), "{} snaps {}", p.name, x);
                if matches!(p.dist, Dist::QUniform { .. } | Dist::QLogUniform { .. }) {
                    check_value(&p.dist, &Value::Float(x)).map_err(TestCaseError::fail)?;
                }
            }
        }
    }

    #[test]
    fn spaces_round_trip_through_toml_and_json(space in space()) {
        let toml = space.to_toml_string();
        let back = Space::from_toml_str(&toml).map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
        prop_assert_eq!(&back, &space, "{}", toml);
        let json = space.to_json_string();
        let back = Space::from_json_str(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&back, &space, "{}", json);
    }

    #[test]
    fn points_deserialize_into_structs(seed in any::<u64>()) {
        let space = Space::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/space.toml"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let point = space.decode(&space.sample_prior(&mut TrialRng::from_seed(seed)));
        let fail = |e: hyperflow::space::PointError| TestCaseError::fail(format!("{e}: {point}"));

        let flat: Flat = point.deserialize().map_err(fail)?;
        prop_assert_eq!(flat.lr, point.get::<f64>("lr").unwrap());
        prop_assert!((1e-5..=1e-1).contains(&flat.lr));
        prop_assert_eq!(flat.max_depth, point.get::<u32>("max_depth").unwrap());
        prop_assert!((2..=16).contains(&flat.max_depth));
        prop_assert_eq!(flat.n_estimators, 100);
        match flat.model {
            ModelName::Svm => {
                prop_assert!(flat.c.is_some_and(|c| (1e-2..=1e3).contains(&c)));
                prop_assert!(flat.kernel.is_some());
                prop_assert!(flat.min_leaf.is_none());
            }
            ModelName::Tree => {
                prop_assert!(flat.c.is_none() && flat.kernel.is_none());
                prop_assert!(flat.min_leaf.is_some_and(|m| (1..20).contains(&m)));
            }
        }

        let tagged: Tagged = point.deserialize().map_err(fail)?;
        prop_assert_eq!(tagged.max_depth, f64::from(flat.max_depth));
        match tagged.model {
            Model::Svm { c, kernel } => {
                prop_assert_eq!(Some(c), flat.c);
                prop_assert_eq!(Some(kernel), flat.kernel);
            }
            Model::Tree { min_leaf } => prop_assert_eq!(Some(min_leaf), flat.min_leaf),
        }
    }
}

/// The example space read flat: conditional parameters are optional.
#[derive(Debug, serde::Deserialize)]
struct Flat {
    lr: f64,
    max_depth: u32,
    model: ModelName,
    #[serde(rename = "C")]
    c: Option<f64>,
    kernel: Option<Kernel>,
    min_leaf: Option<u32>,
    n_estimators: u32,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModelName {
    Svm,
    Tree,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kernel {
    Rbf,
    Linear,
    Poly,
}

/// The example space with its conditional part as an enum: the choice's value picks the
/// variant. Under `flatten`, integral reals stay reals, so `max_depth` is an `f64` here.
#[derive(Debug, serde::Deserialize)]
struct Tagged {
    #[allow(dead_code)]
    lr: f64,
    max_depth: f64,
    #[allow(dead_code)]
    n_estimators: u32,
    #[serde(flatten)]
    model: Model,
}

#[derive(Debug, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
enum Model {
    Svm {
        #[serde(rename = "C")]
        c: f64,
        kernel: Kernel,
    },
    Tree {
        min_leaf: u32,
    },
}
