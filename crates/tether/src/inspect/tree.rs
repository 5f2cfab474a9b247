//! Parent/child relations: descendants, trees, ancestors, by PID (for a verified handle, the
//! methods of [`crate::Process`] build on these). Parent links come from the one walker,
//! `sys::linux::family`, at the cost of the tree.

use std::collections::HashMap;

use serde::Serialize;

use super::fields::{Field, FieldSet};
use super::filter::Filter;
use super::info::ProcessInfo;
use super::read::read_process;
use super::snapshot::{get, open_proc};
use crate::error::{Error, Result};
use crate::sys::os::family;

/// A process and its children.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProcessTree {
    #[doc = concat!("The process (its fields flattened into the node).")]
    #[serde(flatten)]
    pub process: ProcessInfo,
    #[doc = concat!("Its children, in PID order, each with its own children.")]
    pub children: Vec<ProcessTree>,
}

/// The descendants of `root` (not `root` itself), breadth first (children in PID order under
/// each parent), down to `depth` levels (`None` = all), each with `fields` and its parent.
///
/// Found by parent links, through `/proc/PID/task/*/children` of each member: the cost of the
/// tree, never a pass over /proc. A process that exits while being read, or is not this user's
/// to read, is left out with its own descendants, as a snapshot leaves it out; one whose PID
/// was reused between the listing and the read shows another parent and is left out too. For
/// descendants held by pidfds, see [`crate::Process::descendants`].
pub fn descendants(root: u32, depth: Option<usize>, fields: FieldSet) -> Result<Vec<ProcessInfo>> {
    let mut with_ppid = fields;
    with_ppid.insert(Field::Ppid);
    let mut r = open_proc()?;
    let mut out = Vec::new();
    family::walk_descendants(&[root], depth, &mut |child, parent| match read_process(
        &mut r,
        child,
        with_ppid,
        &Filter::default(),
    ) {
        Ok(Some(p)) if p.ppid == Some(parent) => {
            out.push(p);
            true
        }
        _ => false,
    });
    Ok(out)
}

/// `root` and its descendants as a tree, down to `depth` levels.
pub fn tree(root: u32, depth: Option<usize>, fields: FieldSet) -> Result<ProcessTree> {
    let mut with_ppid = fields;
    with_ppid.insert(Field::Ppid);
    let top = get(root, with_ppid)?;
    let desc = descendants(root, depth, with_ppid)?;
    let mut list = vec![top];
    list.extend(desc);
    let mut f = forest(list);
    Ok(f.remove(0))
}

/// Arrange processes (which must have `ppid`) into trees: each process whose parent is not in
/// the list is a root. Roots and children are ordered by PID.
pub fn forest(mut list: Vec<ProcessInfo>) -> Vec<ProcessTree> {
    list.sort_unstable_by_key(|p| p.pid);
    let present: std::collections::HashSet<u32> = list.iter().map(|p| p.pid).collect();
    let mut kids: HashMap<u32, Vec<ProcessInfo>> = HashMap::new();
    let mut roots = Vec::new();
    for p in list {
        match p.ppid {
            Some(pp) if pp != p.pid && present.contains(&pp) => kids.entry(pp).or_default().push(p),
            _ => roots.push(p),
        }
    }
    fn build(p: ProcessInfo, kids: &mut HashMap<u32, Vec<ProcessInfo>>) -> ProcessTree {
        let children = kids
            .remove(&p.pid)
            .unwrap_or_default()
            .into_iter()
            .map(|c| build(c, kids))
            .collect();
        ProcessTree {
            process: p,
            children,
        }
    }
    roots.into_iter().map(|r| build(r, &mut kids)).collect()
}

/// The ancestors of `pid`, nearest first, up to the top of this PID namespace, each with
/// `fields` (and its parent). `NotFound` when `pid` names no process; the list ends at an
/// ancestor that can no longer be read. For a verified handle, see
/// [`crate::Process::ancestors`].
pub fn ancestors(pid: u32, fields: FieldSet) -> Result<Vec<ProcessInfo>> {
    let mut with_ppid = fields;
    with_ppid.insert(Field::Ppid);
    let chain =
        family::ancestors(pid).ok_or_else(|| Error::not_found(format!("no process {pid}")))?;
    let mut out = Vec::with_capacity(chain.len());
    for (a, _) in chain {
        match get(a, with_ppid) {
            Ok(p) => out.push(p),
            Err(_) => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid: Some(ppid),
            ..Default::default()
        }
    }

    #[test]
    fn forest_of_a_list() {
        let all = vec![p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1)];
        let f = forest(all);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].children.len(), 2);
        assert_eq!(f[0].children[0].children[0].children[0].process.pid, 12);
    }

    #[test]
    fn descendants_and_tree_of_a_live_tree() {
        let t = crate::testing::Nested::start();
        let top = t.top.id();
        let fields = FieldSet::of(&[Field::Name]);
        let d = descendants(top, None, fields).unwrap();
        let pids: Vec<(u32, Option<u32>)> = d.iter().map(|p| (p.pid, p.ppid)).collect();
        assert_eq!(pids, vec![(t.middle, Some(top)), (t.leaf, Some(t.middle))]);
        assert_eq!(d[1].name.as_deref(), Some("sleep"));
        assert_eq!(descendants(top, Some(1), fields).unwrap().len(), 1);
        let tr = tree(top, None, fields).unwrap();
        assert_eq!(tr.children[0].children[0].process.pid, t.leaf);
        let up = ancestors(t.leaf, FieldSet::empty()).unwrap();
        let up: Vec<u32> = up.iter().take(3).map(|p| p.pid).collect();
        assert_eq!(up, vec![t.middle, top, std::process::id()]);
    }
}
