-- A poll's page budget in the database (../0018_page_budget.sql says why).
ALTER TABLE articles ADD COLUMN fetch_page INTEGER NOT NULL DEFAULT 1;
