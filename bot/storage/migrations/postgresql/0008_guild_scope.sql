-- Each server sees and changes only its own (../0008_guild_scope.sql).

ALTER TABLE subscriptions ADD COLUMN interval_seconds BIGINT;
UPDATE subscriptions SET interval_seconds =
    (SELECT f.interval_seconds FROM feeds f WHERE f.id = subscriptions.feed_id);
ALTER TABLE feeds DROP COLUMN interval_seconds;

CREATE TABLE guild_articles (
    guild_id    BIGINT NOT NULL,
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (guild_id, article_id)
);
INSERT INTO guild_articles (guild_id, article_id)
    SELECT s.guild_id, o.article_id FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
    WHERE o.state = 'sent'
    ON CONFLICT DO NOTHING;
CREATE INDEX subscriptions_by_feed_guild ON subscriptions (feed_id, guild_id, active);

-- SQLite's two triggers (insert as sent, update to sent) as one function.
CREATE FUNCTION guild_articles_on_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO guild_articles (guild_id, article_id)
    SELECT guild_id, NEW.article_id FROM subscriptions WHERE id = NEW.subscription_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER guild_articles_on_insert AFTER INSERT ON outbox
    FOR EACH ROW WHEN (NEW.state = 'sent') EXECUTE FUNCTION guild_articles_on_sent();
CREATE TRIGGER guild_articles_on_sent AFTER UPDATE OF state ON outbox
    FOR EACH ROW WHEN (NEW.state = 'sent' AND OLD.state != 'sent')
    EXECUTE FUNCTION guild_articles_on_sent();
