-- Hand-written stand-in (see PROVENANCE.md): the Copany table as it was
-- before migrations/0001 of Copanies/Copany, which assumes it exists.
CREATE TABLE Copany (
  id INTEGER PRIMARY KEY,
  github_url TEXT,
  name TEXT,
  description TEXT,
  created_by INTEGER,
  project_type TEXT,
  project_stage TEXT,
  main_language TEXT,
  license TEXT,
  created_at TEXT,
  updated_at TEXT
);
