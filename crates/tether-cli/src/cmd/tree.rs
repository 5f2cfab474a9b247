//! `tether tree PID`: a process and its descendants.

use tether::inspect::{Field, FieldSet, ProcessTree};
use tether::Result;
use tether_report::TreeReport;

use super::columns;
use crate::output::{print_report, Ctx};

/// Columns after the tree drawing.
const TREE_FIELDS: [Field; 6] = [
    Field::Pid,
    Field::Name,
    Field::State,
    Field::Cpu,
    Field::Rss,
    Field::Elapsed,
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The root process: a PID or an identity string.
    pub target: String,
    /// Show only this many levels below the root.
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let p = super::info::open(&a.target)?;
    let mut fields = FieldSet::of(&TREE_FIELDS);
    if ctx.json {
        fields = FieldSet::standard();
    }
    let t = p.tree(a.depth, fields)?;
    if let Some(note) = tether::inspect::denied_note(flatten(&t)) {
        diag!("tether: {note}");
    }
    if ctx.json {
        print_report(&TreeReport::from(t));
    } else {
        let text = render_forest(std::slice::from_ref(&t), &TREE_FIELDS);
        crate::output::write_out_bytes(text.as_bytes());
    }
    Ok(0)
}

/// Every process of a tree, root first.
fn flatten(t: &ProcessTree) -> Vec<&tether::inspect::ProcessInfo> {
    let mut out = vec![&t.process];
    for c in &t.children {
        out.extend(flatten(c));
    }
    out
}

/// Draw trees with box characters, one process per line:
/// `1234 bash S 0.0 5.2M 3m04s`, children indented under `├─` / `└─`. Cells are escaped
/// ([`columns::cell`]), so a process name cannot break a line or drive the terminal.
pub fn render_forest(roots: &[ProcessTree], fields: &[Field]) -> String {
    let mut out = String::new();
    for r in roots {
        draw(r, "", None, fields, &mut out);
    }
    out
}

fn draw(t: &ProcessTree, prefix: &str, last: Option<bool>, fields: &[Field], out: &mut String) {
    let (branch, child_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└─ "), format!("{prefix}   ")),
        Some(false) => (format!("{prefix}├─ "), format!("{prefix}│  ")),
    };
    let cells: Vec<String> = fields
        .iter()
        .map(|f| match f {
            Field::Cpu => format!("{}%", columns::cell(&t.process, *f)),
            _ => columns::cell(&t.process, *f),
        })
        .collect();
    out.push_str(&branch);
    out.push_str(&cells.join(" "));
    out.push('\n');
    let n = t.children.len();
    for (i, c) in t.children.iter().enumerate() {
        draw(c, &child_prefix, Some(i + 1 == n), fields, out);
    }
}
