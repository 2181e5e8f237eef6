//! `arus forecast eval` on the shared forecasting data (no broker).

use std::path::PathBuf;

use arus::forecast::{eval, EvalArgs};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/forecasting").join(name)
}

#[test]
fn monthly_retail_sales_beat_seasonal_naive_by_the_issue_margin() {
    let args = EvalArgs {
        csv: data("prophet_example_retail_sales.csv"),
        id_col: None,
        date_col: "ds".into(),
        value_col: "y".into(),
        horizon: 12,
        season: 12,
        origins: 3,
        json: false,
    };
    let results = eval(&args).unwrap();
    assert_eq!(results.len(), 1);
    let e = results[0].1.as_ref().unwrap();
    assert_eq!((e.observations, e.origins), (293, 3));
    assert!(e.mase <= 0.9 * e.naive_mase, "MASE {} vs seasonal-naive {}", e.mase, e.naive_mase);
    assert!(e.smape < e.naive_smape);
}

#[test]
fn a_missing_column_is_named() {
    let args = EvalArgs {
        csv: data("prophet_example_retail_sales.csv"),
        id_col: Some("store".into()),
        date_col: "ds".into(),
        value_col: "y".into(),
        horizon: 12,
        season: 12,
        origins: 3,
        json: false,
    };
    let error = eval(&args).unwrap_err().to_string();
    assert!(error.contains("\"store\"") && error.contains("ds, y"), "{error}");
}
