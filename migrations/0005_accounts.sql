-- Built-in accounts (AUTH_ACCOUNTS=true): the tables Better Auth's email-and-password sign-in,
-- bearer sessions and jwt plugin write through its drizzle adapter. Better Auth's models are
-- user, session, account, verification and jwks; here they are auth_* tables with snake_case
-- columns, mapped field by field in feature/identity/accounts/account-tables.ts. Ids are
-- strings Better Auth generates. The tables exist whether or not accounts are enabled.
CREATE TABLE auth_users (
  id             TEXT        PRIMARY KEY,
  name           TEXT        NOT NULL,
  -- Better Auth lower-cases an email before storing or looking it up.
  email          TEXT        NOT NULL UNIQUE,
  email_verified BOOLEAN     NOT NULL DEFAULT false,
  image          TEXT        NULL,
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A session's token is the bearer credential that GET /api/auth/token exchanges for a JWT.
CREATE TABLE auth_sessions (
  id         TEXT        PRIMARY KEY,
  user_id    TEXT        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  token      TEXT        NOT NULL UNIQUE,
  expires_at TIMESTAMPTZ NOT NULL,
  ip_address TEXT        NULL,
  user_agent TEXT        NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_user_id ON auth_sessions (user_id);

-- One row per way of signing in; email and password is provider_id 'credential', whose
-- password column holds the scrypt hash (never the password).
CREATE TABLE auth_accounts (
  id                       TEXT        PRIMARY KEY,
  user_id                  TEXT        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  account_id               TEXT        NOT NULL,
  provider_id              TEXT        NOT NULL,
  access_token             TEXT        NULL,
  refresh_token            TEXT        NULL,
  id_token                 TEXT        NULL,
  access_token_expires_at  TIMESTAMPTZ NULL,
  refresh_token_expires_at TIMESTAMPTZ NULL,
  scope                    TEXT        NULL,
  password                 TEXT        NULL,
  created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX auth_accounts_user_id ON auth_accounts (user_id);

CREATE TABLE auth_verifications (
  id         TEXT        PRIMARY KEY,
  identifier TEXT        NOT NULL,
  value      TEXT        NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX auth_verifications_identifier ON auth_verifications (identifier);

-- The jwt plugin's signing keys (id = the JWK's kid). private_key is encrypted with
-- AUTH_ACCOUNTS_SECRET: changing the secret makes the stored keys unusable.
CREATE TABLE auth_jwks (
  id          TEXT        PRIMARY KEY,
  public_key  TEXT        NOT NULL,
  private_key TEXT        NOT NULL,
  alg         TEXT        NULL,
  crv         TEXT        NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at  TIMESTAMPTZ NULL
);
