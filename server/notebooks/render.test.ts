import fs from "node:fs";
import path from "node:path";
import { parse, parseFragment, type DefaultTreeAdapterMap } from "parse5";
import { describe, expect, it } from "vitest";
import { ansiToHtml, renderMarkdown, renderNotebookHtml } from "./render";
import { parseNotebook, type NotebookV4 } from "./validate";

const CORPUS = path.resolve(__dirname, "../../../shared/corpus");
type Node = DefaultTreeAdapterMap["node"];
type Element = DefaultTreeAdapterMap["element"];

function walkNotebooks(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walkNotebooks(path.join(dir, e.name)) : e.name.endsWith(".ipynb") ? [path.join(dir, e.name)] : []));
}

function load(rel: string): NotebookV4 {
  const file = path.join(CORPUS, rel);
  return parseNotebook(fs.readFileSync(file), path.basename(file)).notebook;
}

/** Every element of an HTML fragment, as a browser's parser (parse5) builds it. */
function elements(html: string): Element[] {
  const out: Element[] = [];
  const visit = (n: Node) => {
    if ("tagName" in n) out.push(n);
    if ("childNodes" in n) n.childNodes.forEach(visit);
    if ("content" in n && n.content) n.content.childNodes.forEach(visit); // <template>
  };
  parseFragment(html).childNodes.forEach(visit);
  return out;
}

const attr = (el: Element, name: string) => el.attrs.find((a) => a.name === name)?.value;

/** The safety properties the portal relies on, checked on the parsed DOM. */
function assertSafe(html: string) {
  for (const el of elements(html)) {
    expect(["script", "style", "object", "embed", "form", "base", "meta", "link"]).not.toContain(el.tagName);
    for (const a of el.attrs) {
      expect(a.name.startsWith("on"), `${el.tagName} has ${a.name}`).toBe(false);
      if (a.name !== "srcdoc") {
        expect(/^\s*(javascript|vbscript):/i.test(a.value), `${el.tagName}[${a.name}]=${a.value}`).toBe(false);
      }
      if (["src", "href", "xlink:href", "action", "formaction", "poster"].includes(a.name) && /^\s*data:/i.test(a.value)) {
        expect(el.tagName).toBe("img");
        expect(a.value).toMatch(/^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$/);
      }
    }
    if (el.tagName === "iframe") {
      expect(attr(el, "sandbox")).toBe("");
      expect(attr(el, "src")).toBeUndefined();
      expect(typeof attr(el, "srcdoc")).toBe("string");
    }
  }
}

describe("renderNotebookHtml on the corpus", () => {
  const all = walkNotebooks(CORPUS).filter((f) => !f.includes("/nbformat/invalid/") || /unique_cell_id|no_cell_id/.test(f));
  it.each(all.map((f) => [path.relative(CORPUS, f)]))("renders %s safely", (rel) => {
    const html = renderNotebookHtml(load(rel), { assetUrl: (p) => `/files/${encodeURIComponent(p)}` });
    expect(html.length).toBeGreaterThan(20);
    assertSafe(html);
  });
});

describe("XSS corpus notebook (tricky/notebook_inject.ipynb)", () => {
  const html = renderNotebookHtml(load("tricky/notebook_inject.ipynb"), {});
  it("has no script, no handler, no javascript: URL outside sandboxed srcdoc", () => {
    assertSafe(html);
    expect(elements(html).some((e) => e.tagName === "script")).toBe(false);
  });
  it("puts text/html outputs in sandbox=\"\" iframes without allow-scripts", () => {
    const iframes = elements(html).filter((e) => e.tagName === "iframe");
    expect(iframes.length).toBeGreaterThan(0);
    for (const f of iframes) {
      expect(attr(f, "sandbox")).toBe("");
      expect(f.attrs.map((a) => a.name)).not.toContain("allow");
      // the srcdoc itself parses into a document carrying a CSP that blocks everything but inline styles/data images
      const doc = parse(attr(f, "srcdoc") ?? "");
      const metas: Element[] = [];
      const visit = (n: Node) => {
        if ("tagName" in n && n.tagName === "meta") metas.push(n);
        if ("childNodes" in n) n.childNodes.forEach(visit);
      };
      visit(doc);
      expect(metas.some((m) => attr(m, "http-equiv") === "Content-Security-Policy" && /default-src 'none'/.test(attr(m, "content") ?? ""))).toBe(true);
    }
  });
  it("shows JavaScript and widgets as notes", () => {
    expect(html).toContain("Sortie JavaScript non exécutée");
    expect(html).toContain("Widget interactif (visible dans Jupyter)");
  });
});

describe("course notebooks", () => {
  it("renders LaTeX math with KaTeX (HTML + MathML) in LaTeX.ipynb", () => {
    const html = renderNotebookHtml(load("courses/cahiers-de-programmes/Tutoriels/LaTeX.ipynb"));
    expect((html.match(/class="katex"/g) ?? []).length).toBeGreaterThan(10);
    expect(html).toContain("<math");
    expect(html).toContain("katex-display");
    // one exercise asks students to fix a deliberately broken formula
    expect((html.match(/katex-error/g) ?? []).length).toBeLessThanOrEqual(1);
  });

  it("renders \\begin{align} from Typesetting Equations", () => {
    const html = renderNotebookHtml(load("courses/notebook/examples/Notebook/Typesetting Equations.ipynb"));
    expect(html).toContain("katex-display");
    expect(html).toMatch(/<annotation encoding="application\/x-tex">\s*\\begin\{align/);
    expect(html).not.toContain("katex-error");
  });

  it("inlines cell attachments of example.ipynb as data URIs", () => {
    const html = renderNotebookHtml(load("courses/notebook/binder/example.ipynb"));
    const imgs = elements(html).filter((e) => e.tagName === "img" && /^data:image\/png;base64,/.test(attr(e, "src") ?? ""));
    expect(imgs.length).toBeGreaterThanOrEqual(11);
    expect(html).not.toContain("attachment:");
  });

  it("puts the DataFrames of 03_Pandas.ipynb into sandboxed iframes", () => {
    const html = renderNotebookHtml(load("courses/premiere_nsi/T5_Traitement_de_donnees/03_Pandas.ipynb"));
    const iframes = elements(html).filter((e) => e.tagName === "iframe");
    expect(iframes.length).toBe(12);
    for (const f of iframes) {
      expect(attr(f, "sandbox")).toBe("");
      expect(attr(f, "srcdoc")).toContain('<table border="1" class="dataframe"');
      expect(attr(f, "style")).toMatch(/^height:\d+px$/);
    }
    // no DataFrame table inline in the page
    expect(elements(html).some((e) => e.tagName === "table")).toBe(false);
  });

  it("resolves relative image paths through assetUrl (and drops them without it)", () => {
    const nb = load("courses/premiere_nsi/T4_Algorithmique/07_Algorithme_KNN.ipynb");
    const html = renderNotebookHtml(nb, { assetUrl: (p) => `/a/1/files/${p.split("/").map(encodeURIComponent).join("/")}` });
    expect(html).toContain('src="/a/1/files/data/distAB.png"');
    const without = renderNotebookHtml(nb);
    expect(without).not.toContain("data/distAB.png");
  });

  it("passes ../ paths to assetUrl as written (the page decides)", () => {
    const seen: string[] = [];
    renderNotebookHtml(load("courses/notebook/examples/Notebook/Working With Markdown Cells.ipynb"), {
      assetUrl: (p) => {
        seen.push(p);
        return `/x/${encodeURIComponent(p)}`;
      },
    });
    expect(seen).toContain("../images/python_logo.svg");
  });

  it("renders SymPy text/latex outputs with KaTeX (05_Step_4)", () => {
    const html = renderNotebookHtml(load("courses/CFDPython/lessons/05_Step_4.ipynb"));
    expect(html).toContain("nb-latex");
    expect(html).toContain("katex");
  });

  it("renders inline SVG outputs as <img> data URIs", () => {
    const html = renderNotebookHtml(load("tricky/svg.ipynb"));
    expect(html).toMatch(/<img class="nb-image" alt="" src="data:image\/svg\+xml;base64,/);
    expect(elements(html).some((e) => e.tagName === "svg")).toBe(false);
  });
});

describe("pieces", () => {
  it("converts ANSI colours to spans and escapes text", () => {
    const html = ansiToHtml("\x1b[0;31mValueError\x1b[0m: <b>x</b> & \x1b[1;32mok\x1b[0m\x1b[38;5;196mr\x1b[0m");
    expect(html).toBe(
      '<span class="ansi-red-fg">ValueError</span>: &lt;b&gt;x&lt;/b&gt; &amp; <span class="ansi-green-fg ansi-bold">ok</span><span style="color:rgb(255,0,0)">r</span>',
    );
  });

  it("renders the ANSI traceback of many_tracebacks.ipynb", () => {
    const html = renderNotebookHtml(load("nbformat/valid/many_tracebacks.ipynb"));
    expect(html).toContain('class="nb-error"');
    expect(html).toContain("ansi-");
    expect(html).not.toContain("\x1b");
  });

  it("keeps math away from markdown emphasis and escapes \\$", () => {
    const html = renderMarkdown("Soit $a_1 * b_2 * c$ et \\$5 et *vrai*", undefined, {});
    expect(html).toContain("katex");
    expect(html).toContain("$5");
    expect(html).toContain("<em>vrai</em>");
  });

  it("cannot be tricked by a forged math placeholder or unsafe URLs", () => {
    const md =
      "\u2063MATH0000_0\u2063 [x](javascript:alert(1)) ![i](data:image/svg+xml;base64,PHN2Zz4=) " +
      '<img src="x" onerror="alert(1)"> <a href="vbscript:x">v</a> <iframe src="https://evil"></iframe>' +
      '<svg><script>alert(1)</script></svg><style>body{display:none}</style><div style="position:fixed;color:red">d</div>';
    const html = renderMarkdown(md, undefined, {});
    assertSafe(html);
    expect(html).not.toContain("iframe");
    expect(html).not.toContain("position");
    expect(html).toContain("color:red");
  });

  it("only accepts safe data: images in markdown", () => {
    const png = "iVBORw0KGgo=";
    const html = renderMarkdown(`![a](data:image/png;base64,${png}) ![b](data:text/html;base64,PHA+)`, undefined, {});
    expect(html).toContain(`src="data:image/png;base64,${png}"`);
    expect(html).not.toContain("text/html");
  });

  it("refuses corrupted base64 image outputs", () => {
    const nb: NotebookV4 = {
      nbformat: 4,
      nbformat_minor: 4,
      metadata: {},
      cells: [
        {
          cell_type: "code",
          execution_count: 1,
          metadata: {},
          source: "x",
          outputs: [{ output_type: "display_data", metadata: {}, data: { "image/png": '" onerror="alert(1)' } }],
        },
      ],
    };
    const html = renderNotebookHtml(nb);
    assertSafe(html);
    expect(html).toContain("Image illisible");
  });
});
