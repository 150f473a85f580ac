//! `/api/v1/calendar/add-working-days`: when an answer is due.

use crate::AppState;
use crate::error::{AppQuery, ErrorBody, HttpError};
use axum::Json;
use axum::extract::State;
use bianmin_common::calendar::MAX_DAYS;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
pub struct AddWorkingDays {
    /// Start date, YYYY-MM-DD (not counted).
    from: Option<String>,
    /// Working days to add, 0..=3660.
    days: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DateAnswer {
    #[schema(example = "2026-11-30")]
    pub date: String,
}

/// The Nth working day strictly after `from`, on the Chinese calendar:
/// public holidays off, make-up working days (调休) on.
#[utoipa::path(get, path = "/api/v1/calendar/add-working-days", tag = "calendar",
    params(AddWorkingDays),
    responses((status = 200, body = DateAnswer), (status = 400, body = ErrorBody)))]
pub async fn add_working_days(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<AddWorkingDays>,
) -> Result<Json<DateAnswer>, HttpError> {
    let from = q.from.unwrap_or_default();
    let from = NaiveDate::parse_from_str(from.trim(), "%Y-%m-%d").map_err(|_| {
        HttpError::invalid(
            "from",
            "date_format",
            "起始日期须为 YYYY-MM-DD 格式的有效日期 (a real date as YYYY-MM-DD)",
        )
    })?;
    let days: u32 = q
        .days
        .unwrap_or_default()
        .trim()
        .parse()
        .ok()
        .filter(|d| *d <= MAX_DAYS)
        .ok_or_else(|| {
            HttpError::invalid(
                "days",
                "days_range",
                format!("工作日数须为 0 到 {MAX_DAYS} 的整数 (an integer from 0 to {MAX_DAYS})"),
            )
        })?;
    let date = state
        .calendar
        .add_working_days(from, days)
        .map_err(|e| HttpError::invalid("days", "days_range", e.to_string()))?;
    Ok(Json(DateAnswer {
        date: date.to_string(),
    }))
}
