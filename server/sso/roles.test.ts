import { describe, expect, it } from "vitest";
import { mapRole } from "./roles";

describe("mapRole", () => {
  const table: [string[], "TEACHER" | "STUDENT", string[]][] = [
    [["National_ENS"], "TEACHER", []],
    [["National_ELV"], "STUDENT", []],
    [["National_3"], "TEACHER", []],
    [["National_1"], "STUDENT", []],
    [["national_ens"], "TEACHER", []],
    [["national_elv"], "STUDENT", []],
    [["Teacher"], "TEACHER", []],
    [["Student"], "STUDENT", []],
    [["ENSEIGNANT"], "TEACHER", []],
    [["ELEVE"], "STUDENT", []],
    [["National_ENS$Enseignant"], "TEACHER", []],
    [["National_TUT"], "STUDENT", ["National_TUT"]],
    [["Relative"], "STUDENT", ["Relative"]],
    [[], "STUDENT", ["(aucun profil)"]],
    [["National_ELV", "National_ENS"], "TEACHER", []],
    [["Personnel", "Teacher"], "TEACHER", []],
  ];
  for (const [values, role, unmapped] of table) {
    it(`${JSON.stringify(values)} -> ${role}`, () => {
      expect(mapRole(values)).toEqual({ role, unmapped });
    });
  }
  it("uses the site's values, case-insensitively, before the built-in ones", () => {
    expect(mapRole(["National_DIR"], { teacher: ["national_dir"] })).toEqual({ role: "TEACHER", unmapped: [] });
    expect(mapRole(["Teacher"], { student: ["TEACHER"] })).toEqual({ role: "STUDENT", unmapped: [] });
    expect(mapRole(["Stagiaire"], { student: ["stagiaire"] })).toEqual({ role: "STUDENT", unmapped: [] });
  });
  it("never gives ADMIN", () => {
    expect(mapRole(["ADMIN", "admin", "National_ADM"]).role).toBe("STUDENT");
  });
});
