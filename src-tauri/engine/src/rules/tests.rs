//! Rules on scripted tracks: every trigger, both line directions, dwell,
//! counts, schedules across midnight, cooldown, classes and masks.

use chrono::{NaiveDate, NaiveTime, Weekday};

use super::*;

const SECOND: i64 = 1_000_000;

fn p(x: f32, y: f32) -> Point {
    Point { x, y }
}

/// Zone 1 "Entrance": the square 0.4..0.6; line 2 "Gate": x = 0.5 from top
/// to bottom (its right side, walking down the screen, is x < 0.5); mask 3:
/// the top-left corner.
fn zones() -> Vec<Zone> {
    vec![
        Zone {
            id: 1,
            name: "Entrance".into(),
            kind: ZoneKind::Zone,
            points: vec![p(0.4, 0.4), p(0.6, 0.4), p(0.6, 0.6), p(0.4, 0.6)],
        },
        Zone {
            id: 2,
            name: "Gate".into(),
            kind: ZoneKind::Line,
            points: vec![p(0.5, 0.0), p(0.5, 1.0)],
        },
        Zone {
            id: 3,
            name: "Flag".into(),
            kind: ZoneKind::Mask,
            points: vec![p(0.0, 0.0), p(0.2, 0.0), p(0.2, 0.2), p(0.0, 0.2)],
        },
    ]
}

fn rule(id: i64, trigger: Trigger) -> Rule {
    Rule {
        id,
        name: format!("rule {id}"),
        enabled: true,
        priority: Priority::High,
        classes: vec!["person".into()],
        trigger,
        schedule: None,
        cooldown_s: 0,
    }
}

/// Monday 1 December 2025, at `h:m`.
fn monday(h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 12, 1)
        .and_then(|d| d.and_hms_opt(h, m, 0))
        .expect("valid date")
}

/// One object's path: (seconds, from, to) per analysed frame.
type Step = (i64, Point, Point);
/// A scripted object: its id, class and steps.
type Path = (TrackId, &'static str, Vec<Step>);
/// What is tested, the trigger, the objects, and the (second, rule) firings expected.
type Case = (&'static str, Trigger, Vec<Path>, Vec<(i64, i64)>);

/// Runs `paths` (id, class, steps) frame by frame; returns the rule ids that
/// fired at each second where something fired.
fn run(rules: &mut CameraRules, paths: &[Path]) -> Vec<(i64, i64)> {
    let mut seconds: Vec<i64> = paths
        .iter()
        .flat_map(|(_, _, s)| s.iter().map(|(t, _, _)| *t))
        .collect();
    seconds.sort_unstable();
    seconds.dedup();
    let mut fired = Vec::new();
    for s in seconds {
        let tracks: Vec<Track> = paths
            .iter()
            .filter_map(|(id, class, steps)| {
                let first = steps.first()?.0;
                let (_, from, to) = steps.iter().find(|(t, _, _)| *t == s)?;
                Some(Track::scripted(*id, class, *from, *to, first * SECOND))
            })
            .collect();
        let refs: Vec<&Track> = tracks.iter().collect();
        for f in rules.evaluate(s * SECOND, monday(12, 0), &refs, &[]) {
            fired.push((s, f.rule_id));
        }
    }
    fired
}

/// A walk from `from` to `to` in `n` one-second steps starting at `start`.
fn walk(start: i64, from: Point, to: Point, n: i64) -> Vec<Step> {
    let at = |k: i64| {
        let f = k as f32 / n as f32;
        p(from.x + (to.x - from.x) * f, from.y + (to.y - from.y) * f)
    };
    (0..=n)
        .map(|k| (start + k, at((k - 1).max(0)), at(k)))
        .collect()
}

#[test]
fn rules_on_scripted_paths() {
    let enter = Trigger::Enter { zone_id: 1 };
    let exit = Trigger::Exit { zone_id: 1 };
    let cross = |direction| Trigger::Cross {
        line_id: 2,
        direction,
    };
    // (what, trigger, paths, expected (second, rule id) firings)
    // x = 0.15, 0.35, 0.55, …: crosses x = 0.5 between s1 and s2.
    let left_to_right = walk(0, p(0.15, 0.9), p(0.95, 0.9), 4);
    let cases: Vec<Case> = vec![
        (
            "enter fires once on the way in",
            enter.clone(),
            vec![(7, "person", walk(0, p(0.1, 0.5), p(0.55, 0.5), 4))],
            vec![(3, 1)],
        ),
        (
            "appearing inside counts as entering",
            enter.clone(),
            vec![(
                7,
                "person",
                vec![(0, p(0.5, 0.5), p(0.5, 0.5)), (1, p(0.5, 0.5), p(0.5, 0.5))],
            )],
            vec![(0, 1)],
        ),
        (
            "walking past does not enter",
            enter.clone(),
            vec![(7, "person", walk(0, p(0.1, 0.9), p(0.9, 0.9), 8))],
            vec![],
        ),
        (
            "a car does not fire a person rule",
            enter.clone(),
            vec![(7, "car", walk(0, p(0.1, 0.5), p(0.55, 0.5), 4))],
            vec![],
        ),
        (
            "exit fires when it leaves",
            exit,
            vec![(7, "person", walk(0, p(0.55, 0.5), p(0.95, 0.5), 4))],
            vec![(1, 1)],
        ),
        (
            "cross inbound: right to left across the downward line",
            cross(CrossDirection::In),
            vec![(7, "person", walk(0, p(0.95, 0.9), p(0.15, 0.9), 4))],
            vec![(3, 1)],
        ),
        (
            "inbound rule ignores outbound",
            cross(CrossDirection::In),
            vec![(7, "person", left_to_right.clone())],
            vec![],
        ),
        (
            "outbound rule sees outbound",
            cross(CrossDirection::Out),
            vec![(7, "person", left_to_right.clone())],
            vec![(2, 1)],
        ),
        (
            "both directions",
            cross(CrossDirection::Both),
            vec![
                (7, "person", left_to_right),
                (8, "person", walk(10, p(0.95, 0.2), p(0.15, 0.2), 4)),
            ],
            vec![(2, 1), (13, 1)],
        ),
        (
            "touching the line is not crossing",
            cross(CrossDirection::Both),
            vec![(7, "person", walk(0, p(0.1, 0.5), p(0.5, 0.5), 2))],
            vec![],
        ),
    ];
    for (what, trigger, paths, expected) in cases {
        let mut rules = CameraRules::new(zones(), vec![rule(1, trigger)]);
        assert_eq!(run(&mut rules, &paths), expected, "{what}");
    }
}

#[test]
fn loitering_fires_once_after_the_dwell() {
    let mut rules = CameraRules::new(
        zones(),
        vec![rule(
            1,
            Trigger::Loiter {
                zone_id: 1,
                seconds: 60.0,
            },
        )],
    );
    let stay: Vec<Step> = (0..=90).map(|s| (s, p(0.5, 0.5), p(0.5, 0.5))).collect();
    assert_eq!(run(&mut rules, &[(7, "person", stay)]), vec![(60, 1)]);
    assert_eq!(rules.dwell_of(7), vec![("Entrance".to_owned(), 90.0)]);
}

#[test]
fn count_fires_when_reached_and_again_only_after_dropping() {
    let mut rules = CameraRules::new(
        zones(),
        vec![rule(
            1,
            Trigger::Count {
                zone_id: 1,
                at_least: 2,
            },
        )],
    );
    let stay = |from: i64, to: i64| {
        (from..=to)
            .map(|s| (s, p(0.5, 0.5), p(0.5, 0.5)))
            .collect::<Vec<_>>()
    };
    let paths = [
        (1, "person", stay(0, 20)),
        (2, "person", stay(5, 10)),  // two from s5: fires; drops at s11
        (3, "person", stay(15, 20)), // two again from s15: fires again
        (4, "car", stay(0, 20)),     // not counted
    ];
    assert_eq!(run(&mut rules, &paths), vec![(5, 1), (15, 1)]);
}

#[test]
fn cooldown_keeps_a_rule_quiet() {
    let mut r = rule(1, Trigger::Enter { zone_id: 1 });
    r.cooldown_s = 30;
    let mut rules = CameraRules::new(zones(), vec![r]);
    let appear = |s: i64| vec![(s, p(0.5, 0.5), p(0.5, 0.5))];
    let paths = [
        (1, "person", appear(0)),
        (2, "person", appear(10)),
        (3, "person", appear(31)),
    ];
    assert_eq!(run(&mut rules, &paths), vec![(0, 1), (31, 1)]);
}

#[test]
fn schedules_cross_midnight() {
    let night = Schedule {
        days: vec![Weekday::Mon],
        start: NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
        end: NaiveTime::from_hms_opt(6, 0, 0).expect("time"),
    };
    let tuesday = |h, m| monday(h, m) + chrono::Duration::days(1);
    let cases = [
        (monday(21, 59), false),
        (monday(22, 0), true),
        (monday(23, 30), true),
        (tuesday(0, 30), true),
        (tuesday(5, 59), true),
        (tuesday(6, 0), false),
        (monday(3, 0), false), // Sunday's night: Sunday is not armed
        (tuesday(23, 0), false),
    ];
    for (at, armed) in cases {
        assert_eq!(night.armed(at), armed, "{at}");
    }
    let day = Schedule {
        days: vec![Weekday::Mon, Weekday::Tue],
        start: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        end: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
    };
    assert!(day.armed(monday(9, 0)) && day.armed(tuesday(16, 59)));
    assert!(!day.armed(monday(17, 0)) && !day.armed(monday(8, 59)));
}

#[test]
fn an_unarmed_rule_stays_quiet() {
    let mut r = rule(1, Trigger::Enter { zone_id: 1 });
    r.schedule = Some(Schedule {
        days: vec![Weekday::Mon],
        start: NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
        end: NaiveTime::from_hms_opt(6, 0, 0).expect("time"),
    });
    let mut rules = CameraRules::new(zones(), vec![r]);
    let track = Track::scripted(1, "person", p(0.5, 0.5), p(0.5, 0.5), 0);
    assert!(
        rules.evaluate(0, monday(12, 0), &[&track], &[]).is_empty(),
        "noon: not armed"
    );
    let track = Track::scripted(2, "person", p(0.5, 0.5), p(0.5, 0.5), SECOND);
    let fired = rules.evaluate(SECOND, monday(23, 0), &[&track], &[]);
    assert_eq!(fired.len(), 1);
    assert!(
        fired[0].explanation.starts_with(
            "Person entered “Entrance” (score 0.80, track 2): rule “rule 1”, armed 22:00–06:00"
        ),
        "{}",
        fired[0].explanation
    );
}

#[test]
fn masks_and_geometry() {
    let rules = CameraRules::new(zones(), Vec::new());
    assert!(rules.masked(p(0.1, 0.1)));
    assert!(!rules.masked(p(0.5, 0.5)));
    let square = [p(0.4, 0.4), p(0.6, 0.4), p(0.6, 0.6), p(0.4, 0.6)];
    assert!(contains(&square, p(0.5, 0.5)));
    assert!(!contains(&square, p(0.7, 0.5)));
    assert!(
        !contains(&square[..2], p(0.5, 0.4)),
        "a polygon needs three points"
    );
    let line = [p(0.5, 0.0), p(0.5, 1.0)];
    assert_eq!(
        crossing(&line, p(0.6, 0.5), p(0.4, 0.5)),
        Some(CrossDirection::In)
    );
    assert_eq!(
        crossing(&line, p(0.4, 0.5), p(0.6, 0.5)),
        Some(CrossDirection::Out)
    );
    let short = [p(0.5, 0.0), p(0.5, 0.3)];
    assert_eq!(
        crossing(&short, p(0.6, 0.5), p(0.4, 0.5)),
        None,
        "passes beyond the line's end"
    );
}

#[test]
fn rules_read_and_write_their_json() {
    let json = r#"{"id": 4, "name": "After hours", "enabled": true, "priority": "high",
        "classes": ["person"], "trigger": {"type": "cross", "line_id": 2, "direction": "in"},
        "schedule": {"days": ["mon", "tue"], "start": "22:00", "end": "06:30"}, "cooldown_s": 60}"#;
    let rule: Rule = serde_json::from_str(json).expect("parses");
    assert_eq!(
        rule.trigger,
        Trigger::Cross {
            line_id: 2,
            direction: CrossDirection::In
        }
    );
    let schedule = rule.schedule.clone().expect("schedule");
    assert_eq!(schedule.days, vec![Weekday::Mon, Weekday::Tue]);
    assert_eq!(
        schedule.end,
        NaiveTime::from_hms_opt(6, 30, 0).expect("time")
    );
    let back = serde_json::to_value(&rule).expect("serialises");
    assert_eq!(back["schedule"]["days"], serde_json::json!(["mon", "tue"]));
    assert_eq!(back["schedule"]["start"], "22:00");
    let bad = json.replace("22:00", "10pm");
    let err = serde_json::from_str::<Rule>(&bad).expect_err("10pm is not HH:MM");
    assert!(
        err.to_string().contains("is not a time of day like 22:00"),
        "{err}"
    );
}
