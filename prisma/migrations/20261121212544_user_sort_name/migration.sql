-- AlterTable
ALTER TABLE "User" ADD COLUMN     "sortName" TEXT NOT NULL DEFAULT '';

-- French alphabetical order without ICU (PGlite has none): lower case, accents and ligatures folded, kept by a trigger
-- so that every way a user is created or renamed (local accounts, ENT sign-ins, class codes) stays sorted right.
CREATE OR REPLACE FUNCTION carnet_fold_name(n TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT replace(replace(translate(lower(n),
    'àáâãäåçèéêëìíîïñòóôõöùúûüýÿ',
    'aaaaaaceeeeiiiinooooouuuuyy'), 'œ', 'oe'), 'æ', 'ae')
$$;

CREATE OR REPLACE FUNCTION carnet_user_sort_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."sortName" := carnet_fold_name(NEW."name");
  RETURN NEW;
END
$$;

CREATE TRIGGER "User_sortName" BEFORE INSERT OR UPDATE OF "name" ON "User"
  FOR EACH ROW EXECUTE FUNCTION carnet_user_sort_name();

UPDATE "User" SET "sortName" = carnet_fold_name("name");
