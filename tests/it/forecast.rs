//! `arus forecast eval` on the shared forecasting data (no broker).

use std::path::PathBuf;

use arus::forecast::{eval, EvalArgs};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/forecasting").join(name)
}

/// Monthly retail sales, horizon 12, season 12, three origins.
fn retail(id_col: Option<&str>) -> EvalArgs {
    EvalArgs {
        csv: data("prophet_example_retail_sales.csv"),
        id_col: id_col.map(str::to_owned),
        date_col: "ds".into(),
        value_col: "y".into(),
        horizon: 12,
        season: 12,
        origins: 3,
        json: false,
    }
}

#[test]
fn monthly_retail_sales_beat_seasonal_naive_by_the_issue_margin() {
    let args = retail(None);
    let results = eval(&args).unwrap();
    assert_eq!(results.len(), 1);
    let e = results[0].1.as_ref().unwrap();
    assert_eq!((e.observations, e.origins), (293, 3));
    assert!(e.mase <= 0.9 * e.naive_mase, "MASE {} vs seasonal-naive {}", e.mase, e.naive_mase);
    assert!(e.smape < e.naive_smape);
}

#[test]
fn a_missing_column_is_named() {
    let error = eval(&retail(Some("store"))).unwrap_err().to_string();
    assert!(error.contains("\"store\"") && error.contains("ds, y"), "{error}");
}
