//! Runs a [`SearchFilter`]: tracks (one result per object, newest first,
//! keyset pages), or for counts ("more than 3 people") the moments when
//! enough objects stood on one frame, from the detections. Every value is
//! a bound parameter; the SQL text only ever holds fixed fragments.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite};

use super::time::{local_instant, parse_hhmm};
use super::SearchFilter;
use crate::{Store, StoreError};

/// A time-of-day filter without dates looks this far back.
const OF_DAY_LOOKBACK_DAYS: i64 = 30;
/// Frames of a count closer than this are one moment.
const MOMENT_GAP_US: i64 = 2_000_000;
pub const MAX_LIMIT: i64 = 200;
/// The longest a track is taken to last when a time range bounds the
/// search (a car parked longer is found while it is in the range's day).
const MAX_SPAN_US: i64 = 24 * 3_600_000_000;

/// One hit: an object's track, or a moment of a count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResult {
    /// `track` or `moment`.
    pub kind: &'static str,
    pub track_id: Option<i64>,
    pub camera_id: i64,
    pub class: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub best_score: f64,
    pub colours: Vec<String>,
    pub upper_colours: Vec<String>,
    pub lower_colours: Vec<String>,
    pub direction: Option<String>,
    /// Most objects together on one frame (moments).
    pub count: Option<i64>,
    pub alert_ids: Vec<i64>,
    pub has_thumbnail: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    /// Pass back as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TrackHit {
    id: i64,
    camera_id: i64,
    class: String,
    first_seen: i64,
    last_seen: i64,
    best_score: f64,
    direction: String,
    colours: String,
    upper_colours: String,
    lower_colours: String,
    has_thumbnail: bool,
    alert_ids: Option<String>,
}

#[derive(sqlx::FromRow)]
struct CountHit {
    camera_id: i64,
    media_time: i64,
    n: i64,
    track_id: Option<i64>,
    class: String,
}

impl Store {
    /// The results of `filter` as of `now` in `tz`, a page of at most `limit`.
    pub async fn search(
        &self,
        filter: &SearchFilter,
        now: DateTime<Utc>,
        tz: Tz,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<SearchPage, StoreError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let intervals = intervals(filter, now, tz);
        if filter.min_count.is_some() {
            return self.search_moments(filter, &intervals, limit, cursor).await;
        }
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT t.id, t.camera_id, t.class, t.first_seen, t.last_seen, t.best_score, t.direction,
             t.colours, t.upper_colours, t.lower_colours, t.thumbnail IS NOT NULL AS has_thumbnail,
             (SELECT group_concat(a.id) FROM alerts a WHERE a.track_id = t.id) AS alert_ids
             FROM tracks t WHERE 1 = 1",
        );
        in_list(&mut sql, "t.class", &filter.classes);
        in_list(&mut sql, "t.camera_id", &filter.cameras);
        overlapping(&mut sql, "t.first_seen", "t.last_seen", &intervals);
        for colour in &filter.colors {
            sql.push(" AND (',' || t.colours || ',') LIKE ")
                .push_bind(format!("%,{colour},%"));
        }
        if !filter.zones.is_empty() {
            sql.push(" AND (t.id IN (SELECT z.track_id FROM track_zones z WHERE z.zone IN (");
            list(&mut sql, &filter.zones);
            sql.push(")) OR t.id IN (SELECT a.track_id FROM alerts a WHERE a.zone IN (");
            list(&mut sql, &filter.zones);
            sql.push(")))");
        }
        if let Some(seconds) = filter.min_dwell_s {
            sql.push(" AND (t.last_seen - t.first_seen >= ")
                .push_bind((seconds * 1e6) as i64)
                .push(" OR t.id IN (SELECT z.track_id FROM track_zones z WHERE z.seconds >= ")
                .push_bind(seconds)
                .push("))");
        }
        match filter.direction.as_deref() {
            Some(way @ ("in" | "out")) => {
                let zone_trigger = if way == "in" { "enter" } else { "exit" };
                sql.push(
                    " AND t.id IN (SELECT a.track_id FROM alerts a JOIN rules r ON r.id = a.rule_id
                      WHERE json_extract(r.definition, '$.trigger.type') = ",
                )
                .push_bind(zone_trigger)
                .push(
                    " OR (json_extract(r.definition, '$.trigger.type') = 'cross'
                      AND json_extract(r.definition, '$.trigger.direction') IN ('both', ",
                )
                .push_bind(way)
                .push(")))");
            }
            Some(screen) => {
                sql.push(" AND t.direction = ").push_bind(screen.to_owned());
            }
            None => {}
        }
        if filter.alerts_only {
            sql.push(" AND t.id IN (SELECT a.track_id FROM alerts a WHERE a.track_id IS NOT NULL)");
        }
        if let Some((time, id)) = cursor.and_then(parse_cursor) {
            sql.push(" AND (t.first_seen < ")
                .push_bind(time)
                .push(" OR (t.first_seen = ")
                .push_bind(time)
                .push(" AND t.id < ")
                .push_bind(id)
                .push("))");
        }
        sql.push(" ORDER BY t.first_seen DESC, t.id DESC LIMIT ")
            .push_bind(limit + 1);
        let mut hits: Vec<TrackHit> = sql.build_query_as().fetch_all(&self.pool).await?;
        let more = hits.len() as i64 > limit;
        hits.truncate(limit as usize);
        let next_cursor = more
            .then(|| hits.last().map(|h| format!("{}:{}", h.first_seen, h.id)))
            .flatten();
        Ok(SearchPage {
            results: hits.into_iter().map(track_result).collect(),
            next_cursor,
        })
    }

    async fn search_moments(
        &self,
        filter: &SearchFilter,
        intervals: &[(i64, i64)],
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<SearchPage, StoreError> {
        let min_count = i64::from(filter.min_count.unwrap_or(1));
        // Frames of one object are not kept in frame_counts.
        let min_count = min_count.max(2);
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT camera_id, media_time, sum(n) AS n, NULL AS track_id, min(class) AS class
             FROM frame_counts WHERE 1 = 1",
        );
        let classes = if filter.classes.is_empty() {
            vec!["person".to_owned()]
        } else {
            filter.classes.clone()
        };
        in_list(&mut sql, "class", &classes);
        in_list(&mut sql, "camera_id", &filter.cameras);
        overlapping(&mut sql, "media_time", "media_time", intervals);
        if let Some((time, _)) = cursor.and_then(parse_cursor) {
            sql.push(" AND media_time < ").push_bind(time);
        }
        if classes.len() == 1 {
            // Lets SQLite seek on (class, n) instead of grouping every frame.
            sql.push(" AND n >= ").push_bind(min_count);
        }
        sql.push(" GROUP BY camera_id, media_time HAVING sum(n) >= ")
            .push_bind(min_count)
            .push(" ORDER BY media_time DESC LIMIT ")
            .push_bind(limit * 50);
        let frames: Vec<CountHit> = sql.build_query_as().fetch_all(&self.pool).await?;
        let mut moments: Vec<SearchResult> = Vec::new();
        for frame in frames {
            let joins = moments.iter_mut().find(|m| {
                m.camera_id == frame.camera_id && m.first_seen - frame.media_time <= MOMENT_GAP_US
            });
            match joins {
                Some(m) => {
                    m.first_seen = m.first_seen.min(frame.media_time);
                    m.count = m.count.max(Some(frame.n));
                    m.track_id = m.track_id.or(frame.track_id);
                }
                None => {
                    if moments.len() as i64 == limit {
                        break;
                    }
                    moments.push(moment(frame));
                }
            }
        }
        let next_cursor = (moments.len() as i64 == limit)
            .then(|| moments.last().map(|m| format!("{}:0", m.first_seen)))
            .flatten();
        for m in &mut moments {
            self.picture_moment(m).await?;
        }
        Ok(SearchPage {
            results: moments,
            next_cursor,
        })
    }

    /// Gives a moment the picture of an object that stood in it (a track of
    /// its class on its camera, seen at that time, with a thumbnail).
    async fn picture_moment(&self, m: &mut SearchResult) -> Result<(), StoreError> {
        let track: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM tracks WHERE camera_id = ? AND class = ? AND thumbnail IS NOT NULL
             AND first_seen <= ? AND first_seen >= ? AND last_seen >= ?
             ORDER BY best_score DESC LIMIT 1",
        )
        .bind(m.camera_id)
        .bind(&m.class)
        .bind(m.last_seen)
        .bind(m.first_seen.saturating_sub(MAX_SPAN_US))
        .bind(m.first_seen)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((id,)) = track {
            m.track_id = Some(id);
            m.has_thumbnail = true;
        }
        Ok(())
    }
}

impl Store {
    /// Writes one line of the search audit log.
    pub async fn audit_search(
        &self,
        actor: &str,
        query: &str,
        filter_json: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO search_audit (at, actor, query, filter) VALUES (?, ?, ?, ?)")
            .bind(at)
            .bind(actor)
            .bind(query)
            .bind(filter_json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit log, newest first: (at, actor, query).
    pub async fn search_audit(&self, limit: i64) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT at, actor, query FROM search_audit ORDER BY id DESC LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

fn moment(frame: CountHit) -> SearchResult {
    SearchResult {
        kind: "moment",
        track_id: frame.track_id,
        camera_id: frame.camera_id,
        class: frame.class,
        first_seen: frame.media_time,
        last_seen: frame.media_time,
        best_score: 0.0,
        colours: Vec::new(),
        upper_colours: Vec::new(),
        lower_colours: Vec::new(),
        direction: None,
        count: Some(frame.n),
        alert_ids: Vec::new(),
        has_thumbnail: false,
    }
}

fn track_result(h: TrackHit) -> SearchResult {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    SearchResult {
        kind: "track",
        track_id: Some(h.id),
        camera_id: h.camera_id,
        class: h.class,
        first_seen: h.first_seen,
        last_seen: h.last_seen,
        best_score: h.best_score,
        colours: split(&h.colours),
        upper_colours: split(&h.upper_colours),
        lower_colours: split(&h.lower_colours),
        direction: Some(h.direction),
        count: None,
        alert_ids: h
            .alert_ids
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|id| id.parse().ok())
            .collect(),
        has_thumbnail: h.has_thumbnail,
    }
}

fn parse_cursor(cursor: &str) -> Option<(i64, i64)> {
    let (time, id) = cursor.split_once(':')?;
    Some((time.parse().ok()?, id.parse().ok()?))
}

fn list<T>(sql: &mut QueryBuilder<Sqlite>, values: &[T])
where
    T: Clone + Send + 'static + for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>,
{
    let mut separated = sql.separated(", ");
    for v in values {
        separated.push_bind(v.clone());
    }
}

fn in_list<T>(sql: &mut QueryBuilder<Sqlite>, column: &str, values: &[T])
where
    T: Clone + Send + 'static + for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>,
{
    if values.is_empty() {
        return;
    }
    sql.push(format!(" AND {column} IN ("));
    list(sql, values);
    sql.push(")");
}

/// Rows whose `[start, end]` meets one of the intervals. Rows are assumed
/// to last at most [`MAX_SPAN_US`], so the start column's index bounds the
/// scan on both sides.
fn overlapping(sql: &mut QueryBuilder<Sqlite>, start: &str, end: &str, intervals: &[(i64, i64)]) {
    if intervals.is_empty() {
        return;
    }
    sql.push(" AND (");
    for (k, (from, to)) in intervals.iter().enumerate() {
        if k > 0 {
            sql.push(" OR ");
        }
        sql.push(format!("({end} >= "))
            .push_bind(*from)
            .push(format!(" AND {start} >= "))
            .push_bind(from.saturating_sub(MAX_SPAN_US))
            .push(format!(" AND {start} < "))
            .push_bind(*to)
            .push(")");
    }
    sql.push(")");
}

/// The UTC µs spans the filter's dates and time of day allow: one span, or
/// one per local day for a time of day (clock changes included). Empty:
/// any time.
pub(super) fn intervals(filter: &SearchFilter, now: DateTime<Utc>, tz: Tz) -> Vec<(i64, i64)> {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (from, to) = (parse(&filter.from), parse(&filter.to));
    let of_day = filter
        .time_of_day
        .as_ref()
        .and_then(|t| Some((parse_hhmm(&t.start)?, parse_hhmm(&t.end)?)));
    let Some((start, end)) = of_day else {
        return match (from, to) {
            (None, None) => Vec::new(),
            (f, t) => vec![(
                f.map_or(i64::MIN, |f| f.timestamp_micros()),
                t.map_or(i64::MAX, |t| t.timestamp_micros()),
            )],
        };
    };
    let from = from.unwrap_or(now - Duration::days(OF_DAY_LOOKBACK_DAYS));
    let to = to.unwrap_or(now);
    let mut day = from.with_timezone(&tz).date_naive() - Duration::days(1);
    let last = to.with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    while day <= last && out.len() < 400 {
        let window_start = local_instant(tz, day, start);
        let end_minutes = if end <= start { end + 24 * 60 } else { end };
        let window_end = local_instant(tz, day, end_minutes);
        let (a, b) = (window_start.max(from), window_end.min(to));
        if a < b {
            out.push((a.timestamp_micros(), b.timestamp_micros()));
        }
        day += Duration::days(1);
    }
    if out.is_empty() {
        // Nothing can match: an empty span rather than "any time".
        out.push((0, 0));
    }
    out
}
