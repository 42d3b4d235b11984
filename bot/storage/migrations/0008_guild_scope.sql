-- Each server sees and changes only its own.

-- The polling interval belongs to a subscription: a feed is checked at the shortest interval of
-- its active subscriptions, so one server asking for a week never delays another's five minutes.
-- Existing subscriptions keep the interval their feed had.
ALTER TABLE subscriptions ADD COLUMN interval_seconds INTEGER;   -- NULL: the configured default
UPDATE subscriptions SET interval_seconds =
    (SELECT f.interval_seconds FROM feeds f WHERE f.id = subscriptions.feed_id);
ALTER TABLE feeds DROP COLUMN interval_seconds;

-- Articles announced in each server. Members of a server read the articles of the feeds it
-- subscribes to plus these, which stay readable after the subscription that brought them is
-- removed (removing a subscription deletes its outbox rows). Filled by triggers on the outbox.
CREATE TABLE guild_articles (
    guild_id    INTEGER NOT NULL,
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (guild_id, article_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT s.guild_id, o.article_id FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
    WHERE o.state = 'sent';
-- Whether a server subscribes to a feed, asked once per search match (`bot.storage._scope`).
CREATE INDEX subscriptions_by_feed_guild ON subscriptions (feed_id, guild_id, active);

CREATE TRIGGER guild_articles_on_insert AFTER INSERT ON outbox WHEN new.state = 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;
CREATE TRIGGER guild_articles_on_sent AFTER UPDATE OF state ON outbox
    WHEN new.state = 'sent' AND old.state != 'sent' BEGIN
    INSERT OR IGNORE INTO guild_articles (guild_id, article_id)
    SELECT guild_id, new.article_id FROM subscriptions WHERE id = new.subscription_id;
END;
