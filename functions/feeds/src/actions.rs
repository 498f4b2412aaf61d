//! Mall actions over HTTP: each mall's client does what mallguard asks of one shop's orders there (hold,
//! release, cancel), behind [`ShopActions`]; [`MallActionsRouter`] is the domain's
//! [`MallActions`] port over all of them, routing each action to the client of its order's mall and shop.
//! A shop with no client (no credentials, or a mall whose API has no such operation) is left to the staff.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use mallguard_domain::action::{ActionError, ActionKind, MallAction, MallActions, Performed};
use mallguard_domain::ids::{Mall, ShopId};

/// What one shop's client at one mall can do there.
#[async_trait]
pub trait ShopActions: Send + Sync {
    fn mall(&self) -> Mall;
    fn shop(&self) -> &ShopId;
    /// Whether this client does `kind` (the mall has such an operation and the shop is set up for it).
    fn can(&self, kind: ActionKind) -> bool;
    /// Does `action` on one of this shop's orders; idempotent at the mall.
    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError>;
}

/// Every shop's client, by mall and shop.
#[derive(Default, Clone)]
pub struct MallActionsRouter {
    shops: BTreeMap<(Mall, ShopId), Arc<dyn ShopActions>>,
}

impl MallActionsRouter {
    pub fn new(clients: impl IntoIterator<Item = Arc<dyn ShopActions>>) -> Self {
        let shops = clients
            .into_iter()
            .map(|client| ((client.mall(), client.shop().clone()), client))
            .collect();
        MallActionsRouter { shops }
    }

    pub fn len(&self) -> usize {
        self.shops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shops.is_empty()
    }
}

#[async_trait]
impl MallActions for MallActionsRouter {
    fn can(&self, mall: Mall, shop: &ShopId, kind: ActionKind) -> bool {
        self.shops
            .get(&(mall, shop.clone()))
            .is_some_and(|client| client.can(kind))
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        let order = &action.order;
        match self.shops.get(&(order.mall, order.shop.clone())) {
            Some(client) if client.can(action.kind) => client.perform(action).await,
            // The credentials were taken out of the secret since the action was asked for: a person acts.
            _ => Err(ActionError::Refused(format!(
                "this deployment has no {} credentials for {} shop {} any more",
                action.kind, order.mall, order.shop
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mallguard_domain::ids::{HoldId, OrderId, OrderRef};

    struct Fixed(Mall, ShopId, Vec<ActionKind>);

    #[async_trait]
    impl ShopActions for Fixed {
        fn mall(&self) -> Mall {
            self.0
        }
        fn shop(&self) -> &ShopId {
            &self.1
        }
        fn can(&self, kind: ActionKind) -> bool {
            self.2.contains(&kind)
        }
        async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
            Ok(Performed::changed(Some(format!("{}:{}", self.1, action.kind))))
        }
    }

    fn action(mall: Mall, shop: &str, kind: ActionKind) -> MallAction {
        let order = OrderRef::new(mall, ShopId::parse(shop).unwrap(), OrderId::parse("1002").unwrap());
        let original = OrderRef::new(mall, ShopId::parse(shop).unwrap(), OrderId::parse("1001").unwrap());
        MallAction::new(
            kind,
            &HoldId::for_order(&order),
            &order,
            &original,
            "2026-11-23T03:00:00Z".parse().unwrap(),
        )
    }

    #[tokio::test]
    async fn each_action_goes_to_the_client_of_its_orders_mall_and_shop() {
        let shop = |s: &str| ShopId::parse(s).unwrap();
        let router = MallActionsRouter::new([
            Arc::new(Fixed(
                Mall::Yahoo,
                shop("tanaka-yahoo"),
                vec![ActionKind::Hold, ActionKind::Cancel],
            )) as Arc<dyn ShopActions>,
            Arc::new(Fixed(Mall::Amazon, shop("A1SELLER"), vec![ActionKind::Cancel])),
        ]);
        assert!(router.can(Mall::Yahoo, &shop("tanaka-yahoo"), ActionKind::Hold));
        assert!(!router.can(Mall::Yahoo, &shop("tanaka-yahoo"), ActionKind::Release));
        assert!(
            !router.can(Mall::Amazon, &shop("A1SELLER"), ActionKind::Hold),
            "no hold at Amazon"
        );
        assert!(!router.can(Mall::Yahoo, &shop("another-store"), ActionKind::Hold));
        let done = router
            .perform(&action(Mall::Amazon, "A1SELLER", ActionKind::Cancel))
            .await
            .unwrap();
        assert_eq!(done.reference.as_deref(), Some("A1SELLER:cancel"));
        let refused = router
            .perform(&action(Mall::Rakuten, "tea-shop", ActionKind::Cancel))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ActionError::Refused(ref m) if m.contains("tea-shop")),
            "{refused}"
        );
    }
}
