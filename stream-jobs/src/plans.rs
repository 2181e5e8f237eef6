//! `plan-budgets` and `plan-goals`: the `budgets` and `goals` tables,
//! materialised from `arus.plan.v1` as keyed tables ([`crate::keyed`]):
//! a person's latest budget per category and latest version of each goal;
//! a removal keeps the row with `active = false`. An event that fails its
//! checks becomes a dead letter (the API and the WhatsApp router check
//! before publishing, so this is what other producers get).

use std::collections::HashMap;

use arus_schemas::plans::{BudgetRow, GoalRow, PlanEvent};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::topics;

use crate::keyed::KeyedTable;

fn checked<R>(event: &PlanEvent, row: Option<R>) -> Option<Result<R, String>> {
    let row = row?;
    Some(match event.validate() {
        Ok(()) => Ok(row),
        Err(errors) => Err(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    })
}

pub struct Budgets;
impl KeyedTable for Budgets {
    type Event = PlanEvent;
    type Row = BudgetRow;
    const NAME: &'static str = "plan-budgets";
    const TABLE: &'static TableDef = &tables::BUDGETS;
    const SOURCE: &'static str = topics::PLAN;
    const KEY: &'static [&'static str] = &["budget_id"];
    const SET: &'static [&'static str] = &["user_id", "category_id", "amount", "rollover", "from_month", "active", "event_id", "channel", "updated_at"];
    fn key(row: &BudgetRow) -> &str {
        &row.budget_id
    }
    fn event_id(row: &BudgetRow) -> &str {
        &row.event_id
    }
    fn schema_version(event: &PlanEvent) -> u32 {
        event.schema_version
    }
    fn owner(event: &PlanEvent) -> Option<String> {
        Some(event.user_id.clone())
    }
    fn row(event: &PlanEvent, _: &HashMap<String, BudgetRow>) -> Option<Result<BudgetRow, String>> {
        checked(event, event.budget_row())
    }
}

pub struct Goals;
impl KeyedTable for Goals {
    type Event = PlanEvent;
    type Row = GoalRow;
    const NAME: &'static str = "plan-goals";
    const TABLE: &'static TableDef = &tables::GOALS;
    const SOURCE: &'static str = topics::PLAN;
    const KEY: &'static [&'static str] = &["goal_key"];
    const SET: &'static [&'static str] =
        &["user_id", "goal_id", "name", "target", "deadline", "start", "counts", "active", "event_id", "channel", "updated_at"];
    fn key(row: &GoalRow) -> &str {
        &row.goal_key
    }
    fn event_id(row: &GoalRow) -> &str {
        &row.event_id
    }
    fn schema_version(event: &PlanEvent) -> u32 {
        event.schema_version
    }
    fn owner(event: &PlanEvent) -> Option<String> {
        Some(event.user_id.clone())
    }
    fn row(event: &PlanEvent, _: &HashMap<String, GoalRow>) -> Option<Result<GoalRow, String>> {
        checked(event, event.goal_row())
    }
}
