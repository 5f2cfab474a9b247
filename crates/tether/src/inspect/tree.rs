//! Parent/child relations: descendants, trees, ancestors.

use std::collections::HashMap;

use serde::Serialize;

use super::fields::{Field, FieldSet};
use super::info::ProcessInfo;
use super::snapshot::{get, snapshot, Query};
use crate::error::Result;

/// A process and its children.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProcessTree {
    #[serde(flatten)]
    pub process: ProcessInfo,
    pub children: Vec<ProcessTree>,
}

/// The descendants of `root` (not `root` itself), breadth first, down to `depth` levels
/// (`None` = all). Uses one snapshot, so the result is consistent with itself.
pub fn descendants(root: u32, depth: Option<usize>, fields: FieldSet) -> Result<Vec<ProcessInfo>> {
    let mut with_ppid = fields;
    with_ppid.insert(Field::Ppid);
    let all = snapshot(&Query {
        fields: with_ppid,
        ..Default::default()
    })?;
    Ok(collect_descendants(all, root, depth))
}

/// Pick the descendants of `root` out of a snapshot that has `ppid`.
pub(crate) fn collect_descendants(
    all: Vec<ProcessInfo>,
    root: u32,
    depth: Option<usize>,
) -> Vec<ProcessInfo> {
    let mut children: HashMap<u32, Vec<ProcessInfo>> = HashMap::new();
    for p in all {
        if let Some(pp) = p.ppid {
            if p.pid != root || pp != root {
                children.entry(pp).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut level = vec![root];
    let mut d = 0;
    while !level.is_empty() && depth.is_none_or(|max| d < max) {
        let mut next = Vec::new();
        for pid in level {
            if let Some(kids) = children.remove(&pid) {
                for k in kids {
                    next.push(k.pid);
                    out.push(k);
                }
            }
        }
        level = next;
        d += 1;
    }
    out
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

/// The ancestors of `pid`, nearest first, up to the top of this PID namespace.
pub fn ancestors(pid: u32, fields: FieldSet) -> Result<Vec<ProcessInfo>> {
    let mut with_ppid = fields;
    with_ppid.insert(Field::Ppid);
    let mut out: Vec<ProcessInfo> = Vec::new();
    let mut cur = get(pid, with_ppid)?.ppid;
    while let Some(pp) = cur.filter(|&p| p != 0) {
        if out.iter().any(|p| p.pid == pp) {
            break; // a cycle can only come from a racy read; stop rather than loop
        }
        match get(pp, with_ppid) {
            Ok(p) => {
                cur = p.ppid;
                out.push(p);
            }
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
    fn depth_limits() {
        let all = vec![p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1)];
        let pids = |v: Vec<ProcessInfo>| v.into_iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(
            pids(collect_descendants(all.clone(), 10, None)),
            vec![11, 13, 12]
        );
        assert_eq!(
            pids(collect_descendants(all.clone(), 10, Some(1))),
            vec![11, 13]
        );
        assert_eq!(
            pids(collect_descendants(all.clone(), 12, None)),
            Vec::<u32>::new()
        );
        let f = forest(all);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].children.len(), 2);
        assert_eq!(f[0].children[0].children[0].children[0].process.pid, 12);
    }
}
