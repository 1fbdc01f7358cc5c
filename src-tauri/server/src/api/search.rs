//! `/api/v1/search`: a sentence (or an edited filter) in, tracks and
//! moments out, with how the sentence was understood and how long the
//! search took. `/api/v1/search/parse` only understands. Every search is
//! written to the audit log (who, when, what).

use std::time::Instant;

use axum::extract::{Query, State};
use axum::Json;
use chrono::Utc;
use peregrine_store::search::{self, Chip, Parsed, SearchFilter, SearchResult, Vocabulary};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::{rfc3339_micros, AppState};

const ACTOR: &str = "operator";
const DEFAULT_LIMIT: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    #[serde(default)]
    q: String,
    /// Run this filter as is (chips edited by the operator).
    #[serde(default)]
    filter: Option<SearchFilter>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A result as the UI shows it.
#[derive(Serialize)]
pub struct ResultView {
    #[serde(flatten)]
    result: SearchResult,
    camera_name: String,
    start: String,
    duration_s: f64,
    thumbnail_url: Option<String>,
}

#[derive(Serialize)]
pub struct SearchAnswer {
    filter: SearchFilter,
    chips: Vec<Chip>,
    unknown_words: Vec<String>,
    results: Vec<ResultView>,
    next_cursor: Option<String>,
    took_ms: f64,
}

pub async fn parse_only(
    State(s): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Parsed>, ApiError> {
    let vocabulary = vocabulary(&s).await?;
    Ok(Json(understand(&s, &params.q, &vocabulary)))
}

pub async fn search_get(
    State(s): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    run(&s, &params.q, None, params.limit, params.cursor.as_deref()).await
}

pub async fn search_post(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchAnswer>, ApiError> {
    run(&s, &body.q, body.filter, body.limit, body.cursor.as_deref()).await
}

/// The search audit log, newest first.
pub async fn audit(State(s): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    let rows = s.store.search_audit(500).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(at, actor, query)| json!({"at": rfc3339_micros(at), "actor": actor, "query": query}))
            .collect(),
    ))
}

async fn run(
    s: &AppState,
    q: &str,
    filter: Option<SearchFilter>,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let started = Instant::now();
    let vocabulary = vocabulary(s).await?;
    let parsed = match filter {
        Some(filter) => {
            check_filter(&filter)?;
            Parsed {
                filter,
                ..Parsed::default()
            }
        }
        None => understand(s, q, &vocabulary),
    };
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=search::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be 1 to {}", search::MAX_LIMIT),
        ));
    }
    let now = Utc::now();
    let page = s
        .store
        .search(&parsed.filter, now, search::local_zone(), limit, cursor)
        .await?;
    let filter_json = serde_json::to_string(&parsed.filter).map_err(ApiError::internal)?;
    let logged = if q.trim().is_empty() {
        "(filter edited)"
    } else {
        q
    };
    s.store
        .audit_search(ACTOR, logged, &filter_json, now.timestamp_micros())
        .await?;
    let results = page
        .results
        .into_iter()
        .map(|result| view(result, &vocabulary))
        .collect();
    Ok(Json(SearchAnswer {
        filter: parsed.filter,
        chips: parsed.chips,
        unknown_words: parsed.unknown_words,
        results,
        next_cursor: page.next_cursor,
        took_ms: (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
    }))
}

fn understand(s: &AppState, q: &str, vocabulary: &Vocabulary) -> Parsed {
    let semantic = s.semantic.as_deref().map(|t| t as &dyn search::Semantic);
    search::parse(q, Utc::now(), search::local_zone(), vocabulary, semantic)
}

async fn vocabulary(s: &AppState) -> Result<Vocabulary, ApiError> {
    let cameras = s
        .store
        .cameras()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut zones: Vec<String> = s
        .store
        .zones(None)
        .await?
        .into_iter()
        .map(|z| z.name)
        .collect();
    zones.sort();
    zones.dedup();
    Ok(Vocabulary { cameras, zones })
}

fn check_filter(filter: &SearchFilter) -> Result<(), ApiError> {
    for (field, value) in [("filter.from", &filter.from), ("filter.to", &filter.to)] {
        if let Some(text) = value {
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time"))?;
        }
    }
    if let Some(tod) = &filter.time_of_day {
        for text in [&tod.start, &tod.end] {
            let ok = text
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                .is_some_and(|(h, m)| h * 60 + m <= 24 * 60 && m < 60);
            if !ok {
                return Err(ApiError::invalid(
                    "filter.time_of_day",
                    "start and end must be HH:MM (up to 24:00)",
                ));
            }
        }
    }
    if filter
        .min_dwell_s
        .is_some_and(|d| !(d >= 0.0 && d.is_finite()))
    {
        return Err(ApiError::invalid(
            "filter.min_dwell_s",
            "must be 0 or more seconds",
        ));
    }
    Ok(())
}

fn view(result: SearchResult, vocabulary: &Vocabulary) -> ResultView {
    let camera_name = vocabulary
        .cameras
        .iter()
        .find(|(id, _)| *id == result.camera_id)
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| format!("Camera {}", result.camera_id));
    let thumbnail_url = result
        .track_id
        .filter(|_| result.has_thumbnail)
        .map(|id| format!("/api/v1/tracks/{id}/thumbnail.jpg"));
    ResultView {
        camera_name,
        start: rfc3339_micros(result.first_seen),
        duration_s: ((result.last_seen - result.first_seen) as f64 / 1e5).round() / 10.0,
        thumbnail_url,
        result,
    }
}
