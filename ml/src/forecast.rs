//! Forecasts with augurs: per series, the better of two models on a holdout
//! — MSTL (seasonal decomposition, the trend by AutoETS) when the series is
//! long enough for its season, and a non-seasonal AutoETS — refitted on the
//! whole series; and the measures to judge it (MASE, sMAPE) against the
//! seasonal-naive forecast, over rolling origins.
//!
//! augurs' ETS has no seasonal component yet (augurs-ets 0.10), so the
//! season is handled by MSTL.

use augurs::ets::trend::AutoETSTrendModel;
use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use serde::Serialize;

/// A model a forecast can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// MSTL with AutoETS on the trend.
    MstlEts,
    /// Non-seasonal AutoETS.
    Ets,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::MstlEts => "mstl+ets",
            Method::Ets => "ets",
        }
    }
}

/// Point forecasts with intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub method: Method,
    pub point: Vec<f64>,
    pub lower: Option<Vec<f64>>,
    pub upper: Option<Vec<f64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("{0} observations are too few to forecast (at least {MIN_OBSERVATIONS})")]
    TooShort(usize),
    #[error("the series has a value that is not a finite number")]
    NotFinite,
    #[error("{0}")]
    Model(String),
}

/// Fewer observations than this are not forecast.
pub const MIN_OBSERVATIONS: usize = 8;

fn fit_predict(method: Method, y: &[f64], horizon: usize, season: usize, level: Option<f64>) -> Result<augurs::Forecast, ForecastError> {
    let error = |e: &dyn std::fmt::Display| ForecastError::Model(format!("{}: {e}", method.as_str()));
    match method {
        Method::MstlEts => {
            let model = MSTLModel::new(vec![season], AutoETSTrendModel::from(AutoETS::non_seasonal()));
            let fitted = model.fit(y).map_err(|e| error(&e))?;
            fitted.predict(horizon, level).map_err(|e| error(&e))
        }
        Method::Ets => {
            let fitted = AutoETS::non_seasonal().fit(y).map_err(|e| error(&e))?;
            fitted.predict(horizon, level).map_err(|e| error(&e))
        }
    }
}

/// The methods worth trying on `n` observations with `season`.
fn candidates(n: usize, horizon: usize, season: usize) -> Vec<Method> {
    // MSTL needs two full seasons to decompose, also in the holdout fit.
    if season > 1 && n >= 2 * season + horizon.max(1) {
        vec![Method::MstlEts, Method::Ets]
    } else {
        vec![Method::Ets]
    }
}

fn mae(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len().max(1) as f64
}

/// Forecasts `horizon` steps of `y` with intervals at `level` (e.g. 0.8),
/// choosing the method by its error on the last `horizon` observations.
pub fn forecast(y: &[f64], horizon: usize, season: usize, level: Option<f64>) -> Result<Forecast, ForecastError> {
    if y.len() < MIN_OBSERVATIONS {
        return Err(ForecastError::TooShort(y.len()));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(ForecastError::NotFinite);
    }
    let methods = candidates(y.len(), horizon, season);
    let mut method = methods[0];
    if methods.len() > 1 {
        let holdout = horizon.min(y.len() / 4).max(1);
        let (train, test) = y.split_at(y.len() - holdout);
        let mut best = f64::INFINITY;
        for &m in &methods {
            if candidates(train.len(), holdout, season).contains(&m) {
                if let Ok(f) = fit_predict(m, train, holdout, season, None) {
                    let e = mae(&f.point, test);
                    if e < best {
                        (best, method) = (e, m);
                    }
                }
            }
        }
    }
    let f = fit_predict(method, y, horizon, season, level)?;
    let (lower, upper) = match f.intervals {
        Some(i) => (Some(i.lower), Some(i.upper)),
        None => (None, None),
    };
    Ok(Forecast { method, point: f.point, lower, upper })
}

/// The seasonal-naive forecast: the value one season before (the last
/// value when `season` ≤ 1).
pub fn seasonal_naive(y: &[f64], horizon: usize, season: usize) -> Vec<f64> {
    let s = season.max(1).min(y.len());
    (0..horizon).map(|h| y[y.len() - s + (h % s)]).collect()
}

/// Mean absolute scaled error of `forecast` against `actual`, scaled by the
/// in-sample seasonal-naive error of `train`.
pub fn mase(actual: &[f64], forecast: &[f64], train: &[f64], season: usize) -> f64 {
    let s = season.max(1);
    let scale = if train.len() > s { train.windows(s + 1).map(|w| (w[s] - w[0]).abs()).sum::<f64>() / (train.len() - s) as f64 } else { f64::NAN };
    mae(actual, forecast) / scale
}

/// Symmetric mean absolute percentage error, in percent (0 where both are 0).
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    let terms: Vec<f64> = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let d = a.abs() + f.abs();
            if d == 0.0 { 0.0 } else { 200.0 * (a - f).abs() / d }
        })
        .collect();
    terms.iter().sum::<f64>() / terms.len().max(1) as f64
}

/// Scores of one series over rolling origins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub observations: usize,
    pub origins: usize,
    pub mase: f64,
    pub smape: f64,
    pub naive_mase: f64,
    pub naive_smape: f64,
    /// How often each method was chosen.
    pub methods: Vec<(Method, usize)>,
}

/// Rolling-origin evaluation: forecasts from up to `origins` cut points, the
/// last `horizon` observations, then `horizon` earlier, and so on; each
/// forecast is scored against what followed, ours and seasonal-naive alike.
pub fn evaluate(y: &[f64], horizon: usize, season: usize, origins: usize) -> Result<Evaluation, ForecastError> {
    let mut scores = Vec::new();
    let mut methods: Vec<(Method, usize)> = Vec::new();
    for k in 0..origins.max(1) {
        let Some(cut) = y.len().checked_sub(horizon * (k + 1)) else { break };
        let train = &y[..cut];
        if train.len() < MIN_OBSERVATIONS.max(season + 1) {
            break;
        }
        let actual = &y[cut..cut + horizon];
        let ours = forecast(train, horizon, season, None)?;
        let naive = seasonal_naive(train, horizon, season);
        match methods.iter_mut().find(|(m, _)| *m == ours.method) {
            Some((_, n)) => *n += 1,
            None => methods.push((ours.method, 1)),
        }
        scores.push((mase(actual, &ours.point, train, season), smape(actual, &ours.point), mase(actual, &naive, train, season), smape(actual, &naive)));
    }
    if scores.is_empty() {
        return Err(ForecastError::TooShort(y.len()));
    }
    let mean = |f: fn(&(f64, f64, f64, f64)) -> f64| scores.iter().map(f).sum::<f64>() / scores.len() as f64;
    Ok(Evaluation {
        observations: y.len(),
        origins: scores.len(),
        mase: mean(|s| s.0),
        smape: mean(|s| s.1),
        naive_mase: mean(|s| s.2),
        naive_smape: mean(|s| s.3),
        methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seasonal_series_with_trend_is_forecast_better_than_seasonal_naive() {
        let y: Vec<f64> = (0..96).map(|t| 100.0 + 2.0 * t as f64 + 20.0 * (std::f64::consts::TAU * t as f64 / 12.0).sin()).collect();
        let f = forecast(&y, 12, 12, Some(0.8)).unwrap();
        assert_eq!(f.point.len(), 12);
        let lower = f.lower.as_ref().unwrap();
        assert!(lower.iter().zip(&f.point).all(|(l, p)| l <= p));
        let e = evaluate(&y, 12, 12, 3).unwrap();
        assert_eq!(e.origins, 3);
        assert!(e.mase < e.naive_mase, "{e:?}");
    }

    #[test]
    fn measures_and_naive_are_as_defined() {
        assert_eq!(seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 3, 2), vec![3.0, 4.0, 3.0]);
        assert_eq!(seasonal_naive(&[1.0, 2.0, 5.0], 2, 1), vec![5.0, 5.0]);
        // Training differences at lag 1 are all 1: MASE equals the MAE.
        assert!((mase(&[4.0, 5.0], &[5.0, 5.0], &[1.0, 2.0, 3.0], 1) - 0.5).abs() < 1e-12);
        assert!((smape(&[100.0], &[50.0]) - 200.0 * 50.0 / 150.0).abs() < 1e-9);
        assert_eq!(smape(&[0.0], &[0.0]), 0.0);
        assert!(matches!(forecast(&[1.0; 3], 2, 1, None), Err(ForecastError::TooShort(3))));
        assert!(matches!(forecast(&[1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2, 1, None), Err(ForecastError::NotFinite)));
    }
}
