//! Varied, valid applications: residents with real-looking ID numbers,
//! phones and reasons, spread over the catalog's centers and service types.

use chrono::NaiveDate;
use rand::Rng;
use serde_json::{Value, json};

const REGIONS: [&str; 6] = ["110105", "310104", "440305", "510107", "330106", "420102"];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = [
    "秀兰", "建国", "桂英", "志强", "丽娟", "海燕", "国华", "玉梅", "德明", "春生",
];
const CHANNELS: [&str; 8] = [
    "web",
    "wechat",
    "app",
    "window",
    "kiosk",
    "phone",
    "home_visit",
    "egov",
];
const REASONS: [&str; 4] = [
    "独居老人，申请居家养老服务补贴",
    "家庭收入低于当地最低生活保障标准",
    "因病产生大额医疗费用，申请医疗救助",
    "新建住房需办理供水报装",
];

pub struct Catalog {
    pub centers: Vec<String>,
    pub service_types: Vec<String>,
}

pub fn application(rng: &mut impl Rng, catalog: &Catalog) -> Value {
    let birth = NaiveDate::from_ymd_opt(1935, 1, 1).unwrap_or_default()
        + chrono::Duration::days(rng.random_range(0..25_000));
    let region = REGIONS[rng.random_range(0..REGIONS.len())];
    let id = bianmin_intake::domain::id_number::compose(region, birth, rng.random_range(0..1000));
    let name = format!(
        "{}{}",
        SURNAMES[rng.random_range(0..10)],
        GIVEN[rng.random_range(0..10)]
    );
    json!({
        "center_id": catalog.centers[rng.random_range(0..catalog.centers.len())],
        "service_type": catalog.service_types[rng.random_range(0..catalog.service_types.len())],
        "channel": CHANNELS[rng.random_range(0..CHANNELS.len())],
        "applicant": {"name": name, "id_number": id, "phone": format!("13{}{:08}", rng.random_range(3..10), rng.random_range(0..100_000_000u32))},
        "reason": REASONS[rng.random_range(0..REASONS.len())],
    })
}
