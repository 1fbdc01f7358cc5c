//! Zones and rules per camera, and the rule templates a site owner picks
//! from: `/api/v1/cameras/{id}/zones`, `/api/v1/zones/{id}`,
//! `/api/v1/cameras/{id}/rules`, `/api/v1/rules/{id}`,
//! `/api/v1/rule-templates`. Every change reaches the engine at once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveTime, Weekday};
use peregrine_engine::detect::class_named;
use peregrine_engine::rules::{CrossDirection, Priority, Rule, Schedule, Trigger, Zone, ZoneKind};
use peregrine_engine::track::Point;
use peregrine_store::{NewRule, NewZone, RuleRow, ZoneRow};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::cameras::{check_name, find, present};
use super::error::{ApiError, ApiJson};
use super::{parse_id, AppState};

const MAX_POINTS: usize = 64;
const MAX_SECONDS: f32 = 86_400.0;
const DEFAULT_COOLDOWN_S: u32 = 60;

#[derive(Serialize)]
pub struct ZoneView {
    id: i64,
    camera_id: i64,
    name: String,
    kind: ZoneKind,
    /// `[[x, y], …]` in 0..1 of the frame; a line is its two end points.
    points: Vec<[f32; 2]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<ZoneKind>,
    #[serde(default)]
    points: Option<Vec<[f32; 2]>>,
}

#[derive(Serialize)]
pub struct RuleView {
    camera_id: i64,
    template: Option<String>,
    #[serde(flatten)]
    rule: Rule,
}

/// A rule to create (from a template, or in full) or the fields to change.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[serde(default)]
    template: Option<String>,
    /// The zone or line a template watches.
    #[serde(default)]
    zone_id: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    trigger: Option<Trigger>,
    /// `null` arms the rule round the clock.
    #[serde(default, deserialize_with = "present")]
    schedule: Option<Option<Schedule>>,
    #[serde(default)]
    cooldown_s: Option<u32>,
}

/// A ready-made rule: what it needs drawn, and what it fills in.
#[derive(Serialize)]
pub struct Template {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    /// "zone" or "line": what the owner picks for it; `null`: the whole camera.
    needs: Option<ZoneKind>,
    rule: Rule,
}

fn templates() -> Vec<Template> {
    let rule = |name: &str, priority, classes: &[&str], trigger, schedule, cooldown_s| Rule {
        id: 0,
        name: name.to_owned(),
        enabled: true,
        priority,
        classes: classes.iter().map(|c| (*c).to_owned()).collect(),
        trigger,
        schedule,
        cooldown_s,
    };
    let hour = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
    let every_night = Schedule {
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        start: hour(18),
        end: hour(7),
    };
    vec![
        Template {
            id: "person_after_hours",
            name: "Person in an area after hours",
            description: "A person enters the area between 18:00 and 07:00.",
            needs: Some(ZoneKind::Zone),
            rule: rule(
                "Person in area after hours",
                Priority::High,
                &["person"],
                Trigger::Enter { zone_id: 0 },
                Some(every_night),
                60,
            ),
        },
        Template {
            id: "person_in_area",
            name: "Person in an area",
            description: "A person enters the area, at any time.",
            needs: Some(ZoneKind::Zone),
            rule: rule(
                "Person in area",
                Priority::Medium,
                &["person"],
                Trigger::Enter { zone_id: 0 },
                None,
                60,
            ),
        },
        Template {
            id: "loitering",
            name: "Loitering at an entrance",
            description: "A person stays in the area for more than 60 seconds.",
            needs: Some(ZoneKind::Zone),
            rule: rule(
                "Loitering",
                Priority::Medium,
                &["person"],
                Trigger::Loiter {
                    zone_id: 0,
                    seconds: 60.0,
                },
                None,
                120,
            ),
        },
        Template {
            id: "vehicle_gate_inbound",
            name: "Vehicle crossing the gate line inbound",
            description:
                "A car, truck, bus or motorcycle crosses the line in the arrow's direction.",
            needs: Some(ZoneKind::Line),
            rule: rule(
                "Vehicle in through the gate",
                Priority::Medium,
                &["car", "truck", "bus", "motorcycle"],
                Trigger::Cross {
                    line_id: 0,
                    direction: CrossDirection::In,
                },
                None,
                10,
            ),
        },
        Template {
            id: "person_crossing",
            name: "Person crossing a line",
            description: "A person crosses the line, either way.",
            needs: Some(ZoneKind::Line),
            rule: rule(
                "Person crossing the line",
                Priority::Medium,
                &["person"],
                Trigger::Cross {
                    line_id: 0,
                    direction: CrossDirection::Both,
                },
                None,
                30,
            ),
        },
        Template {
            id: "crowding",
            name: "Crowding",
            description: "Five or more people in the area at once.",
            needs: Some(ZoneKind::Zone),
            rule: rule(
                "Crowding",
                Priority::Medium,
                &["person"],
                Trigger::Count {
                    zone_id: 0,
                    at_least: 5,
                },
                None,
                300,
            ),
        },
        Template {
            id: "camera_offline",
            name: "Camera offline or frozen",
            description:
                "The camera sends no new picture for 30 seconds (lost, failing or frozen).",
            needs: None,
            rule: rule(
                "Camera offline",
                Priority::High,
                &[],
                Trigger::Offline { seconds: 30 },
                None,
                0,
            ),
        },
    ]
}

impl AppState {
    /// Loads a camera's zones, rules and learnt false alarms into the engine.
    pub async fn apply_rules(&self, camera: i64) -> Result<(), ApiError> {
        let zones = self.store.zones(Some(camera)).await?;
        let rules = self.store.rules(Some(camera)).await?;
        let exclusions = self.store.exclusions(Some(camera)).await?;
        let zones = zones.iter().filter_map(engine_zone).collect();
        let rules = rules.iter().filter_map(engine_rule).collect();
        self.engine.set_rules(camera, zones, rules);
        self.engine.set_exclusions(
            camera,
            exclusions
                .iter()
                .map(super::alerts::engine_exclusion)
                .collect(),
        );
        Ok(())
    }
}

impl AppState {
    /// The camera's privacy areas, to black out in every picture it serves.
    pub async fn privacy_areas(&self, camera: i64) -> Result<Vec<Vec<Point>>, ApiError> {
        let zones = self.store.zones(Some(camera)).await?;
        Ok(zones
            .iter()
            .filter_map(engine_zone)
            .filter(|z| z.kind == ZoneKind::Privacy)
            .map(|z| z.points)
            .collect())
    }
}

fn engine_zone(row: &ZoneRow) -> Option<Zone> {
    let kind = serde_json::from_value(serde_json::Value::String(row.kind.clone())).ok()?;
    let points: Vec<[f32; 2]> = serde_json::from_str(&row.points)
        .map_err(|e| warn!(zone = row.id, error = %e, "unreadable zone points; zone ignored"))
        .ok()?;
    Some(Zone {
        id: row.id,
        name: row.name.clone(),
        kind,
        points: points.iter().map(|[x, y]| Point { x: *x, y: *y }).collect(),
    })
}

fn engine_rule(row: &RuleRow) -> Option<Rule> {
    let mut rule: Rule = serde_json::from_str(&row.definition)
        .map_err(|e| warn!(rule = row.id, error = %e, "unreadable rule; rule ignored"))
        .ok()?;
    rule.id = row.id;
    rule.name = row.name.clone();
    rule.enabled = row.enabled;
    Some(rule)
}

fn zone_view(row: &ZoneRow) -> ZoneView {
    let zone = engine_zone(row);
    ZoneView {
        id: row.id,
        camera_id: row.camera_id,
        name: row.name.clone(),
        kind: zone.as_ref().map_or(ZoneKind::Zone, |z| z.kind),
        points: zone
            .map(|z| z.points.iter().map(|p| [p.x, p.y]).collect())
            .unwrap_or_default(),
    }
}

fn rule_view(row: &RuleRow) -> Result<RuleView, ApiError> {
    Ok(RuleView {
        camera_id: row.camera_id,
        template: row.template.clone(),
        rule: engine_rule(row)
            .ok_or_else(|| ApiError::internal(format!("rule {} is unreadable", row.id)))?,
    })
}

pub async fn templates_list() -> Json<Vec<Template>> {
    Json(templates())
}

pub async fn zones_of_camera(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ZoneView>>, ApiError> {
    let camera = find(&s, &id).await?;
    let rows = s.store.zones(Some(camera.id)).await?;
    Ok(Json(rows.iter().map(zone_view).collect()))
}

pub async fn create_zone(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ZoneInput>,
) -> Result<(StatusCode, Json<ZoneView>), ApiError> {
    let camera = find(&s, &id).await?;
    let name = check_name(body.name.as_deref().unwrap_or_default())?;
    let kind = body
        .kind
        .ok_or_else(|| ApiError::invalid("kind", "must be zone, line, mask or privacy"))?;
    let points = check_points(kind, body.points.as_deref().unwrap_or_default())?;
    let row = s
        .store
        .insert_zone(&NewZone {
            camera_id: camera.id,
            name,
            kind: kind_name(kind),
            points,
        })
        .await?;
    s.apply_rules(camera.id).await?;
    Ok((StatusCode::CREATED, Json(zone_view(&row))))
}

pub async fn update_zone(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ZoneInput>,
) -> Result<Json<ZoneView>, ApiError> {
    let row = find_zone(&s, &id).await?;
    let current = engine_zone(&row).ok_or_else(|| ApiError::internal("unreadable zone"))?;
    let kind = body.kind.unwrap_or(current.kind);
    if kind != current.kind
        && s.store
            .rules(Some(row.camera_id))
            .await?
            .iter()
            .filter_map(engine_rule)
            .any(|r| r.trigger.zone_id() == Some(row.id))
    {
        return Err(ApiError::invalid(
            "kind",
            "rules use this zone: delete them before changing its kind",
        ));
    }
    let name = match body.name {
        Some(n) => check_name(&n)?,
        None => row.name.clone(),
    };
    let points = match body.points {
        Some(p) => check_points(kind, &p)?,
        None => check_points(
            kind,
            &current
                .points
                .iter()
                .map(|p| [p.x, p.y])
                .collect::<Vec<_>>(),
        )?,
    };
    let updated = s
        .store
        .update_zone(
            row.id,
            &NewZone {
                camera_id: row.camera_id,
                name,
                kind: kind_name(kind),
                points,
            },
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no zone with id {}", row.id)))?;
    s.apply_rules(row.camera_id).await?;
    Ok(Json(zone_view(&updated)))
}

/// Deleting a zone deletes the rules that watch it (they could never fire again).
pub async fn delete_zone(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find_zone(&s, &id).await?;
    for rule in s.store.rules(Some(row.camera_id)).await? {
        if engine_rule(&rule).is_some_and(|r| r.trigger.zone_id() == Some(row.id)) {
            s.store.delete_rule(rule.id).await?;
        }
    }
    s.store.delete_zone(row.id).await?;
    s.apply_rules(row.camera_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rules_of_camera(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let camera = find(&s, &id).await?;
    let rows = s.store.rules(Some(camera.id)).await?;
    Ok(Json(rows.iter().map(rule_view).collect::<Result<_, _>>()?))
}

pub async fn create_rule(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let camera = find(&s, &id).await?;
    let template = body.template.clone();
    let base = match &template {
        Some(t) => from_template(t, body.zone_id)?,
        None => {
            let trigger = body
                .trigger
                .clone()
                .ok_or_else(|| ApiError::invalid("trigger", "is needed (or give a template)"))?;
            Rule {
                id: 0,
                name: String::new(),
                enabled: true,
                priority: Priority::Medium,
                classes: Vec::new(),
                trigger,
                schedule: None,
                cooldown_s: DEFAULT_COOLDOWN_S,
            }
        }
    };
    let rule = merge(base, body)?;
    check_rule(&s, camera.id, &rule).await?;
    let row = s
        .store
        .insert_rule(&new_rule(camera.id, template, &rule)?)
        .await?;
    s.apply_rules(camera.id).await?;
    Ok((StatusCode::CREATED, Json(rule_view(&row)?)))
}

pub async fn update_rule(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<Json<RuleView>, ApiError> {
    let row = find_rule(&s, &id).await?;
    if body.template.is_some() || body.zone_id.is_some() {
        return Err(ApiError::invalid(
            "template",
            "applies when creating a rule; change its trigger instead",
        ));
    }
    let current = engine_rule(&row).ok_or_else(|| ApiError::internal("unreadable rule"))?;
    let rule = merge(current, body)?;
    check_rule(&s, row.camera_id, &rule).await?;
    let updated = s
        .store
        .update_rule(
            row.id,
            &new_rule(row.camera_id, row.template.clone(), &rule)?,
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no rule with id {}", row.id)))?;
    s.apply_rules(row.camera_id).await?;
    Ok(Json(rule_view(&updated)?))
}

pub async fn delete_rule(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find_rule(&s, &id).await?;
    s.store.delete_rule(row.id).await?;
    s.apply_rules(row.camera_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn from_template(id: &str, zone_id: Option<i64>) -> Result<Rule, ApiError> {
    let template = templates()
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| {
            let known: Vec<&str> = templates().iter().map(|t| t.id).collect();
            ApiError::invalid(
                "template",
                format!("unknown template; pick one of {}", known.join(", ")),
            )
        })?;
    let mut rule = template.rule;
    if template.needs.is_none() {
        return Ok(rule);
    }
    let zone_id = zone_id.ok_or_else(|| {
        ApiError::invalid("zone_id", "say which zone or line the template watches")
    })?;
    rule.trigger = match rule.trigger {
        Trigger::Enter { .. } => Trigger::Enter { zone_id },
        Trigger::Exit { .. } => Trigger::Exit { zone_id },
        Trigger::Loiter { seconds, .. } => Trigger::Loiter { zone_id, seconds },
        Trigger::Count { at_least, .. } => Trigger::Count { zone_id, at_least },
        Trigger::Cross { direction, .. } => Trigger::Cross {
            line_id: zone_id,
            direction,
        },
        offline @ Trigger::Offline { .. } => offline,
    };
    Ok(rule)
}

fn merge(mut rule: Rule, body: RuleInput) -> Result<Rule, ApiError> {
    if let Some(name) = body.name {
        rule.name = check_name(&name)?;
    }
    if rule.name.is_empty() {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 100 printable characters",
        ));
    }
    if let Some(enabled) = body.enabled {
        rule.enabled = enabled;
    }
    if let Some(priority) = body.priority {
        rule.priority = priority;
    }
    if let Some(classes) = body.classes {
        rule.classes = classes
            .iter()
            .map(|c| {
                class_named(c).map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid(
                        "classes",
                        format!("“{c}” is not a class the detector knows"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(trigger) = body.trigger {
        rule.trigger = trigger;
    }
    if let Some(schedule) = body.schedule {
        rule.schedule = schedule;
    }
    if let Some(cooldown) = body.cooldown_s {
        rule.cooldown_s = cooldown.min(MAX_SECONDS as u32);
    }
    match rule.trigger {
        Trigger::Loiter { seconds, .. }
            if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_SECONDS) =>
        {
            Err(ApiError::invalid(
                "trigger.seconds",
                "must be more than 0 and at most 86400",
            ))
        }
        Trigger::Count { at_least, .. } if !(1..=1000).contains(&at_least) => Err(
            ApiError::invalid("trigger.at_least", "must be between 1 and 1000"),
        ),
        _ => Ok(rule),
    }
}

/// The zone a rule watches must be this camera's, and of the right kind.
async fn check_rule(s: &AppState, camera: i64, rule: &Rule) -> Result<(), ApiError> {
    let wanted = match rule.trigger {
        Trigger::Cross { .. } => ZoneKind::Line,
        Trigger::Offline { seconds } if (5..=86_400).contains(&seconds) => return Ok(()),
        Trigger::Offline { .. } => {
            return Err(ApiError::invalid(
                "trigger.seconds",
                "must be between 5 and 86400",
            ))
        }
        _ => ZoneKind::Zone,
    };
    let zone_id = rule.trigger.zone_id().unwrap_or_default();
    let zone = s
        .store
        .zone(zone_id)
        .await?
        .filter(|z| z.camera_id == camera)
        .and_then(|z| engine_zone(&z));
    match zone {
        Some(z) if z.kind == wanted => Ok(()),
        _ => Err(ApiError::invalid(
            if wanted == ZoneKind::Line {
                "trigger.line_id"
            } else {
                "trigger.zone_id"
            },
            format!(
                "must be the id of a {} drawn on this camera",
                kind_name(wanted)
            ),
        )),
    }
}

fn new_rule(camera_id: i64, template: Option<String>, rule: &Rule) -> Result<NewRule, ApiError> {
    Ok(NewRule {
        camera_id,
        name: rule.name.clone(),
        enabled: rule.enabled,
        template,
        definition: serde_json::to_string(rule).map_err(ApiError::internal)?,
    })
}

fn check_points(kind: ZoneKind, points: &[[f32; 2]]) -> Result<String, ApiError> {
    let in_frame = points
        .iter()
        .flatten()
        .all(|v| v.is_finite() && (0.0..=1.0).contains(v));
    let count_ok = match kind {
        ZoneKind::Line => points.len() == 2,
        ZoneKind::Zone | ZoneKind::Mask | ZoneKind::Privacy => {
            (3..=MAX_POINTS).contains(&points.len())
        }
    };
    if !in_frame {
        return Err(ApiError::invalid(
            "points",
            "every coordinate must be between 0 and 1 (a fraction of the frame)",
        ));
    }
    if !count_ok {
        let what = if kind == ZoneKind::Line {
            "a line needs exactly 2 points".to_owned()
        } else {
            format!("an area needs 3 to {MAX_POINTS} points")
        };
        return Err(ApiError::invalid("points", what));
    }
    serde_json::to_string(points).map_err(ApiError::internal)
}

fn kind_name(kind: ZoneKind) -> String {
    match kind {
        ZoneKind::Zone => "zone",
        ZoneKind::Line => "line",
        ZoneKind::Mask => "mask",
        ZoneKind::Privacy => "privacy",
    }
    .to_owned()
}

async fn find_zone(s: &AppState, raw: &str) -> Result<ZoneRow, ApiError> {
    let id = parse_id(raw)?;
    s.store
        .zone(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no zone with id {id}")))
}

async fn find_rule(s: &AppState, raw: &str) -> Result<RuleRow, ApiError> {
    let id = parse_id(raw)?;
    s.store
        .rule(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no rule with id {id}")))
}

/// Puts a gate line, an entrance zone, two rules on them and a camera-offline
/// alarm on a demo camera that has none, so a visitor sees explained alerts
/// without a click.
pub async fn ensure_demo_rules(s: &AppState, camera: i64) -> anyhow::Result<()> {
    if !s.store.zones(Some(camera)).await?.is_empty() {
        return Ok(());
    }
    let line = s
        .store
        .insert_zone(&NewZone {
            camera_id: camera,
            name: "Gate line".into(),
            kind: "line".into(),
            points: "[[0.5,0.05],[0.5,0.95]]".into(),
        })
        .await?;
    let zone = s
        .store
        .insert_zone(&NewZone {
            camera_id: camera,
            name: "Entrance".into(),
            kind: "zone".into(),
            points: "[[0.6,0.55],[0.95,0.55],[0.95,0.95],[0.6,0.95]]".into(),
        })
        .await?;
    let armed = [
        ("person_crossing", Some(line.id)),
        ("person_in_area", Some(zone.id)),
        ("camera_offline", None),
    ];
    for (template, zone_id) in armed {
        let rule = from_template(template, zone_id).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let row = new_rule(camera, Some(template.to_owned()), &rule)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        s.store.insert_rule(&row).await?;
    }
    s.apply_rules(camera)
        .await
        .map_err(|e| anyhow::anyhow!("cannot apply the demo rules: {e:?}"))?;
    Ok(())
}
