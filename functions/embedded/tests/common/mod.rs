//! What the store tests share.

use mallguard_domain::ports::{Expect, StoredOrder, WriteBatch};
use mallguard_domain::testing::order;

/// A batch storing the new order `id` (expected absent).
pub fn new_order(id: &str) -> WriteBatch {
    let order = order(id);
    let stored = StoredOrder {
        identity: mallguard_domain::identity::IdentityHasher::new(b"embedded-tests".to_vec()).order_identity(&order),
        products: mallguard_domain::identity::ProductMap::default().products_of(&order),
        raw: id.as_bytes().to_vec(),
        received_at: order.placed_at,
        version: 1,
        hold: None,
        duplicates: vec![],
        order,
    };
    WriteBatch {
        orders: vec![(stored, Expect::Absent)],
        ..WriteBatch::default()
    }
}
