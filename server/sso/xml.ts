/**
 * A small, strict XML parser for CAS validation responses. It refuses what an attacker could use against a general
 * XML library: any DOCTYPE, any entity declaration, any entity reference other than the five predefined ones and
 * numeric character references (so no external entities and no "billion laughs"), processing instructions other
 * than the XML declaration, and documents over 256 KiB or nested deeper than 32 elements.
 * Namespace prefixes are resolved to their URIs, so `cas:` or any other prefix bound to the CAS namespace works.
 */
import "server-only";

export interface XmlElement {
  /** Namespace URI ("" when none). */
  ns: string;
  /** Local name, without prefix. */
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated text directly inside this element (not its children's). */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const MAX_BYTES = 256 * 1024;
const MAX_DEPTH = 32;
const NAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?$/;
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, ref: string) => {
    if (!whole.endsWith(";")) throw new XmlError("Caractère & non échappé.");
    if (ref in PREDEFINED) return PREDEFINED[ref]!;
    const m = /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.exec(ref);
    if (m) {
      const code = m[1]!.startsWith("x") ? parseInt(m[1]!.slice(1), 16) : parseInt(m[1]!, 10);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError("Référence de caractère invalide.");
      return String.fromCodePoint(code);
    }
    throw new XmlError(`Entité refusée : &${ref};`);
  });
}

interface Raw {
  qname: string;
  attrs: Record<string, string>;
  children: Raw[];
  text: string;
  nsDecl: Record<string, string>;
}

/** Parses a whole document and returns its root element. Throws XmlError on anything unexpected. */
export function parseXml(input: string): XmlElement {
  if (input.length > MAX_BYTES) throw new XmlError("Réponse XML trop grande.");
  let s = input.replace(/^\uFEFF/, "");
  let i = 0;
  const stack: Raw[] = [];
  let root: Raw | null = null;

  // Hard refusal before anything else: no DTD, no entity declarations, anywhere (even inside comments or CDATA).
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<!NOTATION/i.test(s)) throw new XmlError("DTD et déclarations d'entités refusées.");

  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const textEnd = lt === -1 ? s.length : lt;
    if (textEnd > i) {
      const text = s.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(text);
      else if (text.trim()) throw new XmlError("Texte hors de l'élément racine.");
      i = textEnd;
      continue;
    }
    if (s.startsWith("<?", i)) {
      const end = s.indexOf("?>", i);
      if (end === -1) throw new XmlError("Instruction de traitement non terminée.");
      const body = s.slice(i + 2, end);
      if (!/^xml(\s|$)/.test(body) || i !== 0 && s.slice(0, i).trim() !== "") throw new XmlError("Instruction de traitement refusée.");
      i = end + 2;
      continue;
    }
    if (s.startsWith("<!--", i)) {
      const end = s.indexOf("-->", i + 4);
      if (end === -1) throw new XmlError("Commentaire non terminé.");
      i = end + 3;
      continue;
    }
    if (s.startsWith("<![CDATA[", i)) {
      const end = s.indexOf("]]>", i);
      if (end === -1) throw new XmlError("Section CDATA non terminée.");
      const top = stack[stack.length - 1];
      if (!top) throw new XmlError("CDATA hors de l'élément racine.");
      top.text += s.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (s.startsWith("<!", i)) throw new XmlError("Déclaration refusée.");
    if (s.startsWith("</", i)) {
      const end = s.indexOf(">", i);
      if (end === -1) throw new XmlError("Balise fermante non terminée.");
      const qname = s.slice(i + 2, end).trim();
      const top = stack.pop();
      if (!top || top.qname !== qname) throw new XmlError(`Balise fermante inattendue : ${qname.slice(0, 40)}.`);
      i = end + 1;
      continue;
    }
    // Start tag: name, attributes, optional self-closing.
    const m = /^<([^\s/>]+)/.exec(s.slice(i, i + 200));
    if (!m || !NAME.test(m[1]!)) throw new XmlError("Nom d'élément invalide.");
    let j = i + m[0].length;
    const attrs: Record<string, string> = {};
    const nsDecl: Record<string, string> = {};
    const attrRe = /\s*([^\s=/>]+)\s*=\s*("([^"<]*)"|'([^'<]*)')/y;
    for (;;) {
      attrRe.lastIndex = j;
      const a = attrRe.exec(s);
      if (!a) break;
      const [, an, , dq, sq] = a;
      if (!NAME.test(an!)) throw new XmlError("Nom d'attribut invalide.");
      const value = decodeEntities(dq ?? sq ?? "");
      if (an === "xmlns") nsDecl[""] = value;
      else if (an!.startsWith("xmlns:")) nsDecl[an!.slice(6)] = value;
      else {
        if (an! in attrs) throw new XmlError("Attribut en double.");
        attrs[an!] = value;
      }
      j = attrRe.lastIndex;
    }
    const rest = /^\s*(\/?)>/.exec(s.slice(j, j + 64));
    if (!rest) throw new XmlError("Balise ouvrante invalide.");
    const el: Raw = { qname: m[1]!, attrs, children: [], text: "", nsDecl };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw new XmlError("Plusieurs éléments racine.");
    else root = el;
    if (!rest[1]) {
      stack.push(el);
      if (stack.length > MAX_DEPTH) throw new XmlError("Document trop profond.");
    }
    i = j + rest[0].length;
  }
  if (stack.length) throw new XmlError("Document XML incomplet.");
  if (!root) throw new XmlError("Document XML vide.");
  s = "";
  return resolve(root, { xml: "http://www.w3.org/XML/1998/namespace" });
}

function resolve(el: Raw, scope: Record<string, string>): XmlElement {
  const inner = { ...scope, ...el.nsDecl };
  const colon = el.qname.indexOf(":");
  const prefix = colon === -1 ? "" : el.qname.slice(0, colon);
  const name = colon === -1 ? el.qname : el.qname.slice(colon + 1);
  const ns = inner[prefix];
  if (prefix && ns === undefined) throw new XmlError(`Préfixe d'espace de noms inconnu : ${prefix}.`);
  const attrs: Record<string, string> = {};
  // Attributes are kept by local name: CAS attribute pairs use unprefixed `name` and `value`.
  for (const [k, v] of Object.entries(el.attrs)) attrs[k.includes(":") ? k.slice(k.indexOf(":") + 1) : k] = v;
  return { ns: ns ?? "", name, attrs, text: el.text, children: el.children.map((c) => resolve(c, inner)) };
}
