//! Where a job resumes: stored Delta positions checked against the Kafka
//! cluster it is connected to. Offsets are only meaningful for the cluster
//! they came from; a different cluster id, or a stored offset at or beyond a
//! partition's end (the broker lost or reset its data), is a mismatch that is
//! handled by an explicit policy instead of silently skipping messages.

use std::collections::HashMap;

use arus_schemas::config::OffsetMismatchPolicy;

use crate::writer::{cluster_fingerprint, StoredPositions};
use crate::LakeError;

/// Next offset to read per assigned partition (`None`: from the beginning),
/// and the partitions whose stored offsets were dropped under
/// [`OffsetMismatchPolicy::Reprocess`].
#[derive(Debug, Default, PartialEq)]
pub struct ResumePlan {
    pub next: HashMap<(String, i32), Option<i64>>,
    pub forgotten: Vec<(String, i32)>,
}

/// Decides where each assigned partition resumes.
///
/// `high_watermarks` holds the offset the next produced message of each
/// partition will get; `cluster_id` is what the broker reports (`None` when
/// it reports nothing, which disables that check). A stored offset counts as
/// beyond the end only when it is at least `end_tolerance` past it: tansu
/// 0.6's memory engine reports the first offset of the partition's last
/// record batch as its end, up to one batch short.
pub fn plan_resume(
    job: &str,
    assigned: &[(String, i32)],
    stored: &StoredPositions,
    cluster_id: Option<&str>,
    high_watermarks: &HashMap<(String, i32), i64>,
    end_tolerance: i64,
    policy: OffsetMismatchPolicy,
) -> Result<ResumePlan, LakeError> {
    let cluster_changed = match (stored.cluster, cluster_id) {
        (Some(stored), Some(current)) => stored != cluster_fingerprint(current),
        _ => false,
    };
    let mut mismatches = Vec::new();
    let mut plan = ResumePlan::default();
    for key in assigned {
        let last = stored.last_offsets.get(key).copied();
        let beyond_end = match (last, high_watermarks.get(key)) {
            (Some(last), Some(&high)) => last >= high + end_tolerance,
            _ => false,
        };
        if last.is_some() && (cluster_changed || beyond_end) {
            let why = if cluster_changed {
                format!("{}/{}: written against another cluster (now {})", key.0, key.1, cluster_id.unwrap_or("?"))
            } else {
                format!(
                    "{}/{}: stored offset {} but the partition ends at {}",
                    key.0,
                    key.1,
                    last.unwrap_or_default(),
                    high_watermarks.get(key).copied().unwrap_or_default()
                )
            };
            mismatches.push(why);
            plan.forgotten.push(key.clone());
            plan.next.insert(key.clone(), None);
        } else {
            plan.next.insert(key.clone(), last.map(|o| o + 1));
        }
    }
    if !mismatches.is_empty() && policy == OffsetMismatchPolicy::Fail {
        return Err(LakeError::InconsistentStoredOffsets { job: job.to_owned(), detail: mismatches.join("; ") });
    }
    if !mismatches.is_empty() {
        tracing::warn!(job, partitions = ?plan.forgotten, "stored offsets do not match the cluster; reprocessing those partitions from the beginning");
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> (String, i32) {
        ("t".to_owned(), p)
    }

    fn stored(offsets: &[(i32, i64)], cluster: Option<&str>) -> StoredPositions {
        StoredPositions {
            last_offsets: offsets.iter().map(|(p, o)| (key(*p), *o)).collect(),
            cluster: cluster.map(cluster_fingerprint),
        }
    }

    #[test]
    fn resumes_after_the_stored_offset_or_from_the_beginning() {
        let high = HashMap::from([(key(0), 100), (key(1), 5)]);
        let plan = plan_resume("j", &[key(0), key(1)], &stored(&[(0, 41)], Some("c1")), Some("c1"), &high, 0, OffsetMismatchPolicy::Fail).unwrap();
        assert_eq!(plan.next[&key(0)], Some(42));
        assert_eq!(plan.next[&key(1)], None);
        assert!(plan.forgotten.is_empty());
    }

    #[test]
    fn a_reset_broker_is_refused_by_default() {
        // Offset 41 was written, but the partition now holds only 10 messages.
        let high = HashMap::from([(key(0), 10)]);
        let err = plan_resume("enrich", &[key(0)], &stored(&[(0, 41)], None), None, &high, 0, OffsetMismatchPolicy::Fail).unwrap_err();
        assert!(matches!(err, LakeError::InconsistentStoredOffsets { .. }));
        assert!(err.to_string().contains("stored offset 41 but the partition ends at 10"), "{err}");
    }

    #[test]
    fn another_cluster_is_refused_or_reprocessed_as_configured() {
        let high = HashMap::from([(key(0), 1000)]);
        let s = stored(&[(0, 41)], Some("old-cluster"));
        assert!(plan_resume("j", &[key(0)], &s, Some("new-cluster"), &high, 0, OffsetMismatchPolicy::Fail).is_err());
        let plan = plan_resume("j", &[key(0)], &s, Some("new-cluster"), &high, 0, OffsetMismatchPolicy::Reprocess).unwrap();
        assert_eq!(plan.next[&key(0)], None);
        assert_eq!(plan.forgotten, vec![key(0)]);
    }

    #[test]
    fn an_end_reported_up_to_one_batch_short_is_tolerated() {
        // tansu 0.6: offsets up to 362 delivered, end reported as 326.
        let high = HashMap::from([(key(0), 326)]);
        let s = stored(&[(0, 362)], Some("c"));
        assert!(plan_resume("j", &[key(0)], &s, Some("c"), &high, 0, OffsetMismatchPolicy::Fail).is_err());
        let plan = plan_resume("j", &[key(0)], &s, Some("c"), &high, 10_000, OffsetMismatchPolicy::Fail).unwrap();
        assert_eq!(plan.next[&key(0)], Some(363));
    }

    #[test]
    fn the_end_of_a_fully_read_partition_is_not_a_mismatch() {
        let high = HashMap::from([(key(0), 42)]);
        let plan = plan_resume("j", &[key(0)], &stored(&[(0, 41)], Some("c")), Some("c"), &high, 0, OffsetMismatchPolicy::Fail).unwrap();
        assert_eq!(plan.next[&key(0)], Some(42));
    }
}
