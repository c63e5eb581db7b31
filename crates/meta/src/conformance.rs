//! The behaviour every [`KvBackend`](crate::KvBackend) must have. Each backend
//! crate calls [`run_all`] from its tests with a fresh, empty store.

use crate::{MetaError, MetaStore, Table};

type R<T> = Result<T, MetaError>;

/// Runs every conformance check against an empty store; panics on failure.
pub async fn run_all(store: MetaStore) {
    put_get_delete(&store).await;
    range_is_ordered_bounded_and_limited(&store).await;
    tables_are_isolated(&store).await;
    writes_are_visible_inside_their_transaction(&store).await;
    aborted_transactions_leave_nothing(&store).await;
    concurrent_read_modify_write_is_serialized(&store).await;
}

async fn put_get_delete(store: &MetaStore) {
    store
        .write(|tx| -> R<()> { tx.put(Table::System, b"k1", b"v1") })
        .await
        .unwrap();
    let v = store
        .read(|tx| -> R<_> { tx.get(Table::System, b"k1") })
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some(&b"v1"[..]));
    let existed = store
        .write(|tx| -> R<_> { tx.delete(Table::System, b"k1") })
        .await
        .unwrap();
    assert!(existed);
    let again = store
        .write(|tx| -> R<_> { tx.delete(Table::System, b"k1") })
        .await
        .unwrap();
    assert!(!again, "deleting a missing key reports false");
    let v = store
        .read(|tx| -> R<_> { tx.get(Table::System, b"k1") })
        .await
        .unwrap();
    assert_eq!(v, None);
}

async fn range_is_ordered_bounded_and_limited(store: &MetaStore) {
    store
        .write(|tx| -> R<()> {
            for k in ["b", "a", "c/1", "c", "c/2", "d", "\u{e9}"] {
                tx.put(Table::Objects, k.as_bytes(), k.as_bytes())?;
            }
            tx.put(Table::Objects, &[0xFF], b"ff")
        })
        .await
        .unwrap();
    let keys = |pairs: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<Vec<u8>> {
        pairs.into_iter().map(|(k, _)| k).collect()
    };
    let all = store
        .read(|tx| -> R<_> { tx.range(Table::Objects, b"", None, 100) })
        .await
        .unwrap();
    let expected: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"c/1".to_vec(),
        b"c/2".to_vec(),
        b"d".to_vec(),
        "\u{e9}".as_bytes().to_vec(),
        vec![0xFF],
    ];
    assert_eq!(keys(all), expected, "keys come back in byte order");
    let mid = store
        .read(|tx| -> R<_> { tx.range(Table::Objects, b"b", Some(b"c/2"), 100) })
        .await
        .unwrap();
    assert_eq!(
        keys(mid),
        vec![b"b".to_vec(), b"c".to_vec(), b"c/1".to_vec()],
        "start is inclusive, end exclusive"
    );
    let limited = store
        .read(|tx| -> R<_> { tx.range(Table::Objects, b"bb", None, 2) })
        .await
        .unwrap();
    assert_eq!(keys(limited), vec![b"c".to_vec(), b"c/1".to_vec()]);
    store
        .write(|tx| -> R<()> {
            for (k, _) in tx.range(Table::Objects, b"", None, 100)? {
                tx.delete(Table::Objects, &k)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn tables_are_isolated(store: &MetaStore) {
    store
        .write(|tx| -> R<()> { tx.put(Table::Buckets, b"same", b"bucket") })
        .await
        .unwrap();
    let other = store
        .read(|tx| -> R<_> { tx.get(Table::Uploads, b"same") })
        .await
        .unwrap();
    assert_eq!(other, None);
    let n = store
        .read(|tx| -> R<_> { tx.range(Table::Parts, b"", None, 10) })
        .await
        .unwrap();
    assert!(n.is_empty());
    store
        .write(|tx| -> R<_> { tx.delete(Table::Buckets, b"same") })
        .await
        .unwrap();
}

async fn writes_are_visible_inside_their_transaction(store: &MetaStore) {
    let seen = store
        .write(|tx| -> R<_> {
            tx.put(Table::System, b"own", b"1")?;
            let v = tx.get(Table::System, b"own")?;
            let r = tx.range(Table::System, b"o", None, 10)?;
            tx.delete(Table::System, b"own")?;
            Ok((v, r.len()))
        })
        .await
        .unwrap();
    assert_eq!(seen, (Some(b"1".to_vec()), 1));
}

#[derive(Debug)]
enum TestError {
    Meta(#[allow(dead_code)] MetaError),
    Refused,
}

impl From<MetaError> for TestError {
    fn from(e: MetaError) -> Self {
        Self::Meta(e)
    }
}

async fn aborted_transactions_leave_nothing(store: &MetaStore) {
    let res: Result<(), TestError> = store
        .write(|tx| {
            tx.put(Table::System, b"ghost", b"x")?;
            Err(TestError::Refused)
        })
        .await;
    assert!(
        matches!(res, Err(TestError::Refused)),
        "the closure's error is returned"
    );
    let v = store
        .read(|tx| -> R<_> { tx.get(Table::System, b"ghost") })
        .await
        .unwrap();
    assert_eq!(v, None, "an aborted transaction's writes are not visible");
}

async fn concurrent_read_modify_write_is_serialized(store: &MetaStore) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                s.write(|tx| -> R<()> {
                    let n = tx
                        .get(Table::System, b"counter")?
                        .map(|v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8])))
                        .unwrap_or(0);
                    tx.put(Table::System, b"counter", &(n + 1).to_be_bytes())
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = store
        .read(|tx| -> R<_> { tx.get(Table::System, b"counter") })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u64::from_be_bytes(v.try_into().unwrap()), 160);
}
