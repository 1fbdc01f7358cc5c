//! `GET /api/v1/detections?camera=&class=&from=&to=&limit=`

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use chrono::DateTime;
use peregrine_engine::BoundingBox;
use peregrine_store::{DetectionQuery, DetectionRow};
use serde::Serialize;

use super::error::ApiError;
use super::{rfc3339_micros, AppState};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Serialize)]
pub struct DetectionView {
    pub id: i64,
    pub camera_id: i64,
    pub media_time: String,
    pub class: String,
    pub score: f64,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    pub track_id: Option<i64>,
}

impl From<DetectionRow> for DetectionView {
    fn from(d: DetectionRow) -> Self {
        Self {
            id: d.id,
            camera_id: d.camera_id,
            media_time: rfc3339_micros(d.media_time),
            class: d.class,
            score: d.score,
            bbox: BoundingBox {
                x: d.x as f32,
                y: d.y as f32,
                w: d.w as f32,
                h: d.h as f32,
            },
            track_id: d.track_id,
        }
    }
}

pub async fn list(
    State(s): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<DetectionView>>, ApiError> {
    let query = parse(&params)?;
    let rows = s.store.detections(&query).await?;
    Ok(Json(rows.into_iter().map(DetectionView::from).collect()))
}

fn parse(params: &HashMap<String, String>) -> Result<DetectionQuery, ApiError> {
    let mut q = DetectionQuery {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    for (key, value) in params {
        match key.as_str() {
            "camera" => {
                q.camera = Some(value.parse().map_err(|_| {
                    ApiError::invalid("camera", "must be a camera id (a whole number)")
                })?)
            }
            "class" => {
                if value.is_empty() || value.len() > 64 {
                    return Err(ApiError::invalid(
                        "class",
                        "must be a class name such as person or car",
                    ));
                }
                q.class = Some(value.to_lowercase());
            }
            "from" => q.from = Some(parse_time("from", value)?),
            "to" => q.to = Some(parse_time("to", value)?),
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))
                    })?
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "unknown parameter: use camera, class, from, to or limit",
                ))
            }
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::invalid("from", "must not be later than `to`"));
        }
    }
    Ok(q)
}

fn parse_time(field: &str, value: &str) -> Result<i64, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            ApiError::invalid(
                field,
                "must be an RFC 3339 time such as 2026-11-24T22:00:00Z",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_a_full_query() {
        let q = parse(&params(&[
            ("camera", "2"),
            ("class", "Person"),
            ("from", "2026-11-24T22:00:00Z"),
            ("to", "2026-11-25T06:00:00+01:00"),
            ("limit", "10"),
        ]))
        .unwrap();
        assert_eq!(q.camera, Some(2));
        assert_eq!(q.class.as_deref(), Some("person"));
        assert_eq!(q.from, Some(1_795_557_600_000_000));
        assert_eq!(q.to, Some(1_795_582_800_000_000));
        assert_eq!(q.limit, 10);
    }

    #[test]
    fn names_the_bad_field() {
        for (key, value) in [
            ("from", "yesterday"),
            ("limit", "0"),
            ("camera", "x"),
            ("colour", "red"),
        ] {
            let err = parse(&params(&[(key, value)])).unwrap_err();
            assert!(format!("{err:?}").contains(key), "{key}: {err:?}");
        }
    }
}
