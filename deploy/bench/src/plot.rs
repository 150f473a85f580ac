//! The latency-versus-load curve, as an SVG drawn with plotters (no fonts
//! or system libraries needed).

use plotters::prelude::*;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub concurrency: usize,
    pub submit_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub propagation_p99_ms: f64,
}

pub fn curve(points: &[Point], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_x = points.iter().map(|p| p.submit_rps).fold(1.0, f64::max) * 1.1;
    let max_y = points
        .iter()
        .map(|p| p.p99_ms.max(p.propagation_p99_ms))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Bianmin: submission latency vs. throughput (gateway)",
            ("sans-serif", 22),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("submissions per second")
        .y_desc("latency (ms)")
        .draw()?;
    let series = [
        (
            "p50 submit",
            BLUE,
            points
                .iter()
                .map(|p| (p.submit_rps, p.p50_ms))
                .collect::<Vec<_>>(),
        ),
        (
            "p99 submit",
            RED,
            points.iter().map(|p| (p.submit_rps, p.p99_ms)).collect(),
        ),
        (
            "p99 propagation (201 to review visible)",
            GREEN,
            points
                .iter()
                .map(|p| (p.submit_rps, p.propagation_p99_ms))
                .collect(),
        ),
    ];
    for (label, color, data) in series {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            data.iter()
                .map(|(x, y)| Circle::new((*x, *y), 4, color.filled())),
        )?;
    }
    for p in points {
        chart.draw_series(std::iter::once(Text::new(
            format!("c={}", p.concurrency),
            (p.submit_rps, p.p99_ms),
            ("sans-serif", 13),
        )))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}
