//! Budgets and goals: what a person plans for their money. Setting,
//! changing or removing one is a [`PlanEvent`] on [`crate::topics::PLAN`]
//! (keyed by `user_id`), from the API or WhatsApp; the plan jobs keep the
//! `budgets` and `goals` tables, and the advisor jobs read them.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{check_identifier, check_schema_version, ValidationError, MAX_ABS_AMOUNT};

/// A budget or goal set, changed or removed. Published on
/// [`crate::topics::PLAN`], keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanEvent {
    pub schema_version: u32,
    /// Deterministic per request (`api:{uuid}`, `wa:{message_id}`): a repeat is dropped.
    pub id: String,
    pub user_id: String,
    /// Who made the change (the person, or an officer or admin for them).
    pub actor_id: String,
    /// `api` or `whatsapp`.
    pub channel: String,
    pub at: DateTime<Utc>,
    pub change: PlanChange,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanChange {
    /// A monthly spending limit for a category, from `from_month` on.
    BudgetSet(Budget),
    BudgetRemoved { category_id: String },
    GoalSet(Goal),
    GoalRemoved { goal_id: String },
}

/// A monthly budget for one spending category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Budget {
    pub category_id: String,
    /// Whole rupiah a month, > 0.
    pub amount: i64,
    /// Whether what is left of a month (or overspent) carries into the next.
    #[serde(default)]
    pub rollover: bool,
    /// `YYYY-MM` (WIB) of the first month it applies to.
    pub from_month: String,
}

/// What money counts toward a goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GoalCounts {
    /// Income minus spending from the goal's start (what is saved).
    NetSavings,
    /// Money put into these categories from the start (e.g. `transfer_out`
    /// to a savings account, `zakat_donation` for a giving goal).
    Categories { categories: Vec<String> },
    /// The net flow of one account from the start (a savings account).
    Account { account_id: String },
}

/// A savings goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Goal {
    /// Stable within the person: the slug of the name unless given.
    pub goal_id: String,
    pub name: String,
    /// Whole rupiah, > 0.
    pub target: i64,
    pub deadline: NaiveDate,
    /// The first day that counts (WIB).
    pub start: NaiveDate,
    pub counts: GoalCounts,
}

/// `name` as a goal id: lower-case words joined by `-` (`Dana Darurat` → `dana-darurat`).
pub fn slug(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect::<Vec<_>>().join("-")
}

/// Whether `month` is `YYYY-MM`.
pub fn is_month(month: &str) -> bool {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok() && month.len() == 7
}

fn check_amount(field: &str, amount: i64, errors: &mut Vec<ValidationError>) {
    if amount <= 0 {
        errors.push(ValidationError::new(field, "not_positive", format!("{field} must be more than 0 rupiah")));
    } else if amount > MAX_ABS_AMOUNT {
        errors.push(ValidationError::with_param(field, "too_large", format!("{field} exceeds {MAX_ABS_AMOUNT} rupiah"), MAX_ABS_AMOUNT));
    }
}

fn check_spending_category(field: &str, id: &str, errors: &mut Vec<ValidationError>) {
    match crate::categories::by_id(id) {
        None => errors.push(ValidationError::new(field, "unknown_category", format!("{id:?} is not a category"))),
        Some(c) if c.group == crate::categories::CategoryGroup::Income => {
            errors.push(ValidationError::new(field, "income_category", format!("{id:?} is an income category; budgets are for spending")))
        }
        Some(_) => {}
    }
}

impl Budget {
    pub fn validate(&self, errors: &mut Vec<ValidationError>) {
        check_spending_category("category_id", &self.category_id, errors);
        check_amount("amount", self.amount, errors);
        if !is_month(&self.from_month) {
            errors.push(ValidationError::new("from_month", "invalid_month", "from_month must be YYYY-MM"));
        }
    }
}

impl Goal {
    pub fn validate(&self, errors: &mut Vec<ValidationError>) {
        check_identifier("goal_id", &self.goal_id, 64, errors);
        if slug(&self.goal_id) != self.goal_id {
            errors.push(ValidationError::new("goal_id", "invalid_id", "goal_id must be lower-case letters and digits joined by -"));
        }
        check_identifier("name", &self.name, 100, errors);
        check_amount("target", self.target, errors);
        if self.deadline < self.start {
            errors.push(ValidationError::new("deadline", "before_start", "the deadline must not be before the start"));
        }
        match &self.counts {
            GoalCounts::NetSavings => {}
            GoalCounts::Categories { categories } => {
                if categories.is_empty() {
                    errors.push(ValidationError::required("counts.categories"));
                }
                for c in categories {
                    if crate::categories::by_id(c).is_none() {
                        errors.push(ValidationError::new("counts.categories", "unknown_category", format!("{c:?} is not a category")));
                    }
                }
            }
            GoalCounts::Account { account_id } => check_identifier("counts.account_id", account_id, 128, errors),
        }
    }
}

impl PlanEvent {
    /// Every reason this event cannot be applied; empty when valid.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        if let Err(e) = check_schema_version(self.schema_version) {
            errors.push(e);
        }
        check_identifier("id", &self.id, 256, &mut errors);
        check_identifier("user_id", &self.user_id, 128, &mut errors);
        check_identifier("actor_id", &self.actor_id, 128, &mut errors);
        match &self.change {
            PlanChange::BudgetSet(b) => b.validate(&mut errors),
            PlanChange::BudgetRemoved { category_id } => check_spending_category("category_id", category_id, &mut errors),
            PlanChange::GoalSet(g) => g.validate(&mut errors),
            PlanChange::GoalRemoved { goal_id } => check_identifier("goal_id", goal_id, 64, &mut errors),
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A row of `budgets`: a person's current budget for a category
/// (`active = false` once removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetRow {
    /// `{user_id}:{category_id}`: the table's key.
    pub budget_id: String,
    pub user_id: String,
    pub category_id: String,
    pub amount: i64,
    pub rollover: bool,
    pub from_month: String,
    pub active: bool,
    pub event_id: String,
    pub channel: String,
    pub updated_at: DateTime<Utc>,
}

/// A row of `goals` (`active = false` once removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GoalRow {
    /// `{user_id}:{goal_id}`: the table's key.
    pub goal_key: String,
    pub user_id: String,
    pub goal_id: String,
    pub name: String,
    pub target: i64,
    pub deadline: NaiveDate,
    pub start: NaiveDate,
    /// [`GoalCounts`] as JSON.
    pub counts: String,
    pub active: bool,
    pub event_id: String,
    pub channel: String,
    pub updated_at: DateTime<Utc>,
}

impl GoalRow {
    pub fn counts(&self) -> GoalCounts {
        serde_json::from_str(&self.counts).unwrap_or(GoalCounts::NetSavings)
    }
}

pub fn budget_id(user_id: &str, category_id: &str) -> String {
    format!("{user_id}:{category_id}")
}

pub fn goal_key(user_id: &str, goal_id: &str) -> String {
    format!("{user_id}:{goal_id}")
}

impl PlanEvent {
    /// The `budgets` row this event makes, if it is about a budget.
    pub fn budget_row(&self) -> Option<BudgetRow> {
        let (category_id, amount, rollover, from_month, active) = match &self.change {
            PlanChange::BudgetSet(b) => (b.category_id.clone(), b.amount, b.rollover, b.from_month.clone(), true),
            PlanChange::BudgetRemoved { category_id } => (category_id.clone(), 0, false, String::new(), false),
            _ => return None,
        };
        Some(BudgetRow {
            budget_id: budget_id(&self.user_id, &category_id),
            user_id: self.user_id.clone(),
            category_id,
            amount,
            rollover,
            from_month,
            active,
            event_id: self.id.clone(),
            channel: self.channel.clone(),
            updated_at: self.at,
        })
    }

    /// The `goals` row this event makes, if it is about a goal.
    pub fn goal_row(&self) -> Option<GoalRow> {
        let row = |goal_id: &str| GoalRow {
            goal_key: goal_key(&self.user_id, goal_id),
            user_id: self.user_id.clone(),
            goal_id: goal_id.to_owned(),
            name: String::new(),
            target: 0,
            deadline: NaiveDate::MIN,
            start: NaiveDate::MIN,
            counts: String::new(),
            active: false,
            event_id: self.id.clone(),
            channel: self.channel.clone(),
            updated_at: self.at,
        };
        match &self.change {
            PlanChange::GoalSet(g) => Some(GoalRow {
                name: g.name.clone(),
                target: g.target,
                deadline: g.deadline,
                start: g.start,
                counts: serde_json::to_string(&g.counts).expect("goal counts serialise"),
                active: true,
                ..row(&g.goal_id)
            }),
            PlanChange::GoalRemoved { goal_id } => Some(row(goal_id)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(change: PlanChange) -> PlanEvent {
        PlanEvent {
            schema_version: 1,
            id: "api:1".into(),
            user_id: "u1".into(),
            actor_id: "u1".into(),
            channel: "api".into(),
            at: Utc::now(),
            change,
        }
    }

    #[test]
    fn plans_are_checked_and_become_rows() {
        let budget = Budget { category_id: "food_drink".into(), amount: 1_500_000, rollover: false, from_month: "2026-11".into() };
        let e = event(PlanChange::BudgetSet(budget.clone()));
        e.validate().unwrap();
        let row = e.budget_row().unwrap();
        assert_eq!((row.budget_id.as_str(), row.amount, row.active), ("u1:food_drink", 1_500_000, true));
        assert!(e.goal_row().is_none());

        let bad = |b: Budget| event(PlanChange::BudgetSet(b)).validate().unwrap_err().into_iter().map(|e| e.code).collect::<Vec<_>>();
        assert_eq!(bad(Budget { amount: 0, ..budget.clone() }), ["not_positive"]);
        assert_eq!(bad(Budget { category_id: "sales".into(), ..budget.clone() }), ["income_category"]);
        assert_eq!(bad(Budget { category_id: "bakso".into(), ..budget.clone() }), ["unknown_category"]);
        assert_eq!(bad(Budget { from_month: "2026-13".into(), ..budget.clone() }), ["invalid_month"]);

        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let goal = Goal { goal_id: slug("Dana Darurat"), name: "Dana Darurat".into(), target: 5_000_000, deadline: day(12, 31), start: day(11, 1), counts: GoalCounts::NetSavings };
        assert_eq!(goal.goal_id, "dana-darurat");
        let e = event(PlanChange::GoalSet(goal.clone()));
        e.validate().unwrap();
        let row = e.goal_row().unwrap();
        assert_eq!((row.goal_key.as_str(), row.counts()), ("u1:dana-darurat", GoalCounts::NetSavings));
        let late = event(PlanChange::GoalSet(Goal { deadline: day(10, 1), ..goal.clone() }));
        assert_eq!(late.validate().unwrap_err()[0].code, "before_start");
        let removed = event(PlanChange::GoalRemoved { goal_id: "dana-darurat".into() }).goal_row().unwrap();
        assert!(!removed.active);
    }
}
