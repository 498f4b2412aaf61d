//! Mail routes (メールの送信経路): a buyer's mail goes the way the buyer's mall delivers it. Rakuten accepts
//! mail to its masked addresses (あんしんメルアド, `…@pc.fw.rakuten.ne.jp`) only through its own relay with
//! the shop's credentials; Amazon wants every message to a buyer through its Buyer-Seller Messaging. The rest,
//! and every staff mail, goes the deployment's default way (SES; the outbox folder locally).
//!
//! [`RoutedMailer`] is a [`Mailer`] over the others: it reads the route tags a buyer's hold mail carries
//! (the held order's mall, shop and id) and hands the mail to that mall's mailer for that shop, when the
//! deployment has one; otherwise to the default.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ids::{Mall, ShopId};
use crate::notice::Mail;
use crate::ports::{MailError, Mailer};

/// The tag that marks a mail as the buyer's (its value [`BUYER`]).
pub const ROUTE_TAG: &str = "route";
/// The value of [`ROUTE_TAG`] on a buyer's mail.
pub const BUYER: &str = "buyer";

/// The way one mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// The deployment's own sender (SES).
    Default,
    /// Rakuten's mail relay, for a masked Rakuten address.
    RakutenRelay,
    /// Amazon's Buyer-Seller Messaging.
    AmazonMessaging,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Default => "default",
            Route::RakutenRelay => "rakuten-relay",
            Route::AmazonMessaging => "amazon-messaging",
        }
    }
}

/// Whether `address` is one of Rakuten's masked addresses, which only Rakuten's relay delivers to.
pub fn is_rakuten_masked(address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
    domain == "fw.rakuten.ne.jp" || domain.ends_with(".fw.rakuten.ne.jp")
}

/// The route of `mail`, from its tags and address.
pub fn route_of(mail: &Mail) -> (Route, Option<(Mall, ShopId)>) {
    let tag = |name: &str| mail.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if tag(ROUTE_TAG) != Some(BUYER) {
        return (Route::Default, None);
    }
    let (Some(mall), Some(shop)) = (
        tag("mall").and_then(|m| m.parse::<Mall>().ok()),
        tag("shop").and_then(|s| ShopId::parse(s).ok()),
    ) else {
        return (Route::Default, None);
    };
    let route = match mall {
        Mall::Rakuten if is_rakuten_masked(mail.to.as_str()) => Route::RakutenRelay,
        Mall::Amazon => Route::AmazonMessaging,
        _ => Route::Default,
    };
    (route, Some((mall, shop)))
}

/// A [`Mailer`] that sends each mail its route's way: a shop's mall mailer where the deployment has one,
/// the default otherwise.
pub struct RoutedMailer {
    default: Arc<dyn Mailer>,
    shops: BTreeMap<(Route, ShopId), Arc<dyn Mailer>>,
}

impl RoutedMailer {
    pub fn new(default: Arc<dyn Mailer>) -> Self {
        RoutedMailer {
            default,
            shops: BTreeMap::new(),
        }
    }

    /// Sends `route`'s mails of `shop` through `mailer`.
    pub fn with(mut self, route: Route, shop: ShopId, mailer: Arc<dyn Mailer>) -> Self {
        self.shops.insert((route, shop), mailer);
        self
    }
}

#[async_trait]
impl Mailer for RoutedMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let (route, shop) = route_of(mail);
        match shop.and_then(|(_, shop)| self.shops.get(&(route, shop))) {
            Some(mailer) => mailer.send(mail).await,
            None => {
                if route != Route::Default {
                    tracing::warn!(
                        route = route.as_str(),
                        "no mall mailer for this shop: the mail goes the default way and may not arrive"
                    );
                }
                self.default.send(mail).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::order::EmailAddress;

    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>, &'static str);

    #[async_trait]
    impl Mailer for Recording {
        async fn send(&self, mail: &Mail) -> Result<String, MailError> {
            self.0.lock().unwrap().push(mail.to.to_string());
            Ok(self.1.to_owned())
        }
    }

    fn mail(to: &str, tags: &[(&str, &str)]) -> Mail {
        Mail {
            to: EmailAddress::parse(to).unwrap(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
            tags: tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        }
    }

    #[tokio::test]
    async fn each_buyer_mail_goes_its_malls_way_and_staff_mail_the_default() {
        let default = Arc::new(Recording(Mutex::default(), "ses"));
        let relay = Arc::new(Recording(Mutex::default(), "relay"));
        let messaging = Arc::new(Recording(Mutex::default(), "messaging"));
        let shop = |s: &str| ShopId::parse(s).unwrap();
        let mailer = RoutedMailer::new(default.clone())
            .with(Route::RakutenRelay, shop("tea-shop"), relay.clone())
            .with(Route::AmazonMessaging, shop("A1SELLER"), messaging.clone());
        let buyer = |mall: &'static str, shop: &'static str| {
            vec![(ROUTE_TAG, BUYER), ("mall", mall), ("shop", shop), ("order", "1")]
        };
        let rakuten = buyer("rakuten", "tea-shop");
        assert_eq!(
            mailer.send(&mail("a1b2@pc.fw.rakuten.ne.jp", &rakuten)).await.unwrap(),
            "relay"
        );
        // A Rakuten buyer with a real address (some orders carry one) goes the default way.
        assert_eq!(mailer.send(&mail("taro@example.com", &rakuten)).await.unwrap(), "ses");
        let amazon = buyer("amazon", "A1SELLER");
        assert_eq!(
            mailer.send(&mail("x@marketplace.amazon.co.jp", &amazon)).await.unwrap(),
            "messaging"
        );
        // A shop without a mall mailer, and a staff mail, go the default way.
        let other = buyer("rakuten", "other-shop");
        assert_eq!(
            mailer.send(&mail("z@pc.fw.rakuten.ne.jp", &other)).await.unwrap(),
            "ses"
        );
        let staff = [("kind", "staff_new_hold"), ("mall", "rakuten"), ("shop", "tea-shop")];
        assert_eq!(mailer.send(&mail("staff@shop.example", &staff)).await.unwrap(), "ses");
        assert_eq!(relay.0.lock().unwrap().len(), 1);
        assert_eq!(messaging.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn rakuten_masked_addresses_are_told_apart() {
        assert!(is_rakuten_masked("a@pc.fw.rakuten.ne.jp"));
        assert!(is_rakuten_masked("a@fw.rakuten.ne.jp"));
        assert!(!is_rakuten_masked("a@rakuten.co.jp"));
        assert!(!is_rakuten_masked("a@notfw.rakuten.ne.jp"));
    }
}
