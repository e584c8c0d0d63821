import { describe, expect, it } from "vitest";
import { casLoginUrl, CasError, isTicketSyntax, parseServiceResponse } from "./cas";

const NS = 'xmlns:cas="http://www.yale.edu/tp/cas"';

function refused(xml: string): CasError {
  try {
    parseServiceResponse(xml);
  } catch (e) {
    expect(e).toBeInstanceOf(CasError);
    return e as CasError;
  }
  throw new Error("accepted");
}

describe("CAS service response parser", () => {
  it("reads the CAS 3 <cas:attributes> block, multi-valued", () => {
    const r = parseServiceResponse(`<?xml version="1.0" encoding="UTF-8"?>
<cas:serviceResponse ${NS}>
  <cas:authenticationSuccess>
    <cas:user>jdupont</cas:user>
    <cas:attributes>
      <cas:ENTPersonProfils>National_ENS</cas:ENTPersonProfils>
      <cas:ENTPersonStructRattachUAI>0750001A</cas:ENTPersonStructRattachUAI>
      <cas:ENTAuxEnsClasses>0750001A$2NDE3</cas:ENTAuxEnsClasses>
      <cas:ENTAuxEnsClasses>0750001A$1ERE2</cas:ENTAuxEnsClasses>
      <cas:displayName>Jeanne Dupont &amp; fils</cas:displayName>
    </cas:attributes>
  </cas:authenticationSuccess>
</cas:serviceResponse>`);
    expect(r.user).toBe("jdupont");
    expect(r.attributes).toEqual({
      ENTPersonProfils: ["National_ENS"],
      ENTPersonStructRattachUAI: ["0750001A"],
      ENTAuxEnsClasses: ["0750001A$2NDE3", "0750001A$1ERE2"],
      displayName: ["Jeanne Dupont & fils"],
    });
  });

  it("reads <cas:attribute name= value=> pairs", () => {
    const r = parseServiceResponse(`<cas:serviceResponse ${NS}><cas:authenticationSuccess>
      <cas:user>eleve1</cas:user>
      <cas:attributes>
        <cas:attribute name="ENTPersonProfils" value="National_ELV"/>
        <cas:attribute name="ENTEleveClasses" value="0750001A$2NDE3"/>
      </cas:attributes>
      <cas:attribute name="uai" value="0750001A"/>
    </cas:authenticationSuccess></cas:serviceResponse>`);
    expect(r.attributes).toEqual({ ENTPersonProfils: ["National_ELV"], ENTEleveClasses: ["0750001A$2NDE3"], uai: ["0750001A"] });
  });

  it("reads attributes given as siblings of <cas:user>, with another prefix and CDATA", () => {
    const r = parseServiceResponse(`<x:serviceResponse xmlns:x="http://www.yale.edu/tp/cas"><x:authenticationSuccess>
      <x:user>u42</x:user>
      <x:ENTPersonProfils>National_1</x:ENTPersonProfils>
      <x:nom><![CDATA[Lefèvre <Zoé>]]></x:nom>
      <x:proxyGrantingTicket>PGTIOU-1</x:proxyGrantingTicket>
    </x:authenticationSuccess></x:serviceResponse>`);
    expect(r.user).toBe("u42");
    expect(r.attributes).toEqual({ ENTPersonProfils: ["National_1"], nom: ["Lefèvre <Zoé>"] });
  });

  it("reports INVALID_TICKET and INVALID_SERVICE failures with their code", () => {
    const t = refused(`<cas:serviceResponse ${NS}><cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized</cas:authenticationFailure></cas:serviceResponse>`);
    expect(t.code).toBe("INVALID_TICKET");
    expect(t.message).toContain("not recognized");
    const s = refused(`<cas:serviceResponse ${NS}><cas:authenticationFailure code="INVALID_SERVICE">wrong service</cas:authenticationFailure></cas:serviceResponse>`);
    expect(s.code).toBe("INVALID_SERVICE");
  });

  it("refuses responses that are not CAS", () => {
    expect(refused("<html><body>Erreur</body></html>").code).toBe("BAD_RESPONSE");
    expect(refused(`<serviceResponse><authenticationSuccess><user>x</user></authenticationSuccess></serviceResponse>`).code).toBe("BAD_RESPONSE");
    expect(refused(`<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user> </cas:user></cas:authenticationSuccess></cas:serviceResponse>`).code).toBe("BAD_RESPONSE");
    expect(refused("").code).toBe("BAD_RESPONSE");
    expect(refused(`<cas:serviceResponse ${NS}><cas:authenticationSuccess>`).code).toBe("BAD_RESPONSE");
  });

  describe("hostile XML", () => {
    const hostile: Record<string, string> = {
      "external entity": `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>&xxe;</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "billion laughs": `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
        <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
        <cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>&lol3;</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "bare DOCTYPE": `<!DOCTYPE cas:serviceResponse SYSTEM "http://evil.example/cas.dtd"><cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "undeclared entity": `<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>&foo;</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "parameter entity in lower case": `<!doctype x [<!entity % p SYSTEM "http://evil/">%p;]><x/>`,
      "processing instruction": `<cas:serviceResponse ${NS}><?xml-stylesheet href="http://evil/"?><cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "two roots": `<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess></cas:serviceResponse><cas:serviceResponse ${NS}/>`,
      "deep nesting": `<cas:serviceResponse ${NS}>${"<a>".repeat(100)}${"</a>".repeat(100)}</cas:serviceResponse>`,
      huge: `<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>${"a".repeat(300_000)}</cas:user></cas:authenticationSuccess></cas:serviceResponse>`,
      "mismatched tags": `<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>a</cas:name></cas:authenticationSuccess></cas:serviceResponse>`,
    };
    for (const [name, xml] of Object.entries(hostile)) {
      it(`refuses ${name}`, () => {
        expect(refused(xml).code).toBe("BAD_RESPONSE");
      });
    }

    it("ignores __proto__ as an attribute name", () => {
      const r = parseServiceResponse(`<cas:serviceResponse ${NS}><cas:authenticationSuccess><cas:user>a</cas:user>
        <cas:attributes><cas:attribute name="__proto__" value="x"/></cas:attributes></cas:authenticationSuccess></cas:serviceResponse>`);
      expect(Object.keys(r.attributes)).toEqual([]);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });
  });
});

describe("CAS URLs and tickets", () => {
  it("builds the login URL with the encoded service", () => {
    expect(casLoginUrl("https://ent.example.fr/cas/", "https://carnet.example.fr/api/auth/cas/ent")).toBe(
      "https://ent.example.fr/cas/login?service=https%3A%2F%2Fcarnet.example.fr%2Fapi%2Fauth%2Fcas%2Fent",
    );
  });
  it("accepts only service tickets", () => {
    expect(isTicketSyntax("ST-1-abcDEF_09.x")).toBe(true);
    expect(isTicketSyntax("PT-1-abc")).toBe(false);
    expect(isTicketSyntax("ST-1&service=evil")).toBe(false);
    expect(isTicketSyntax(`ST-${"a".repeat(300)}`)).toBe(false);
  });
});
