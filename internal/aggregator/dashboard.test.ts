import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./dashboard.ts";

function between(html: string, open: string, close: string): string[] {
  const parts: string[] = [];
  let at = 0;
  for (;;) {
    const start = html.indexOf(open, at);
    if (start < 0) return parts;
    const end = html.indexOf(close, start + open.length);
    if (end < 0) throw new Error(`${open} without ${close}`);
    parts.push(html.slice(start + open.length, end));
    at = end + close.length;
  }
}

const scripts = between(DASHBOARD_HTML, "<script>", "</script>");
const styles = between(DASHBOARD_HTML, "<style>", "</style>");
const script = scripts[0] ?? "";
const style = styles[0] ?? "";
const sha256 = (source: string): string => `'sha256-${createHash("sha256").update(source).digest("base64")}'`;

describe("DASHBOARD_HTML", () => {
  test("is one document with one inline script and one inline stylesheet", () => {
    expect(DASHBOARD_HTML.startsWith("<!doctype html>")).toBe(true);
    expect(DASHBOARD_HTML.trimEnd().endsWith("</html>")).toBe(true);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    expect(DASHBOARD_HTML).not.toContain("<script src");
    expect(DASHBOARD_HTML).not.toContain('rel="stylesheet"');
  });

  test("the script parses", () => {
    expect(() => new Function(script)).not.toThrow();
  });

  test("loads nothing from elsewhere and reads only the aggregator's two JSON endpoints", () => {
    // The SVG namespace is a name, not something fetched.
    const urls = DASHBOARD_HTML.match(/https?:\/\/[^\s"')]+/g) ?? [];
    expect(urls.filter((url) => url !== "http://www.w3.org/2000/svg")).toEqual([]);
    expect(style).not.toContain("url(");
    expect(style).not.toContain("@import");
    expect(DASHBOARD_HTML.match(/\b(?:src|href)="[^"]*"/g)).toEqual(['href="data:,"']);
    expect(script.match(/"v1\/[^"]*"/g)).toEqual(['"v1/cluster/metrics"', '"v1/alerts"']);
    expect(script.match(/\bfetch\(/g)).toHaveLength(1);
  });

  test("never parses JSON strings as markup", () => {
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"]) {
      expect(script).not.toContain(sink);
    }
  });

  test("its Content-Security-Policy pins the inline script and stylesheet by hash", () => {
    expect(DASHBOARD_HTML).toContain(`<meta http-equiv="Content-Security-Policy" content="${DASHBOARD_CSP}">`);
    expect(DASHBOARD_CSP).toContain(`script-src ${sha256(script)}`);
    expect(DASHBOARD_CSP).toContain(`style-src ${sha256(style)}`);
    expect(DASHBOARD_CSP).toContain("connect-src 'self'");
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
  });

  test("names what tests look at with data-testid", () => {
    for (const id of ["health-status", "node-count", "member-count", "leader", "stale", "last-update", "breakers", "chart-rps", "chart-p99"]) {
      expect(DASHBOARD_HTML).toContain(`data-testid="${id}"`);
    }
    for (const id of ['"metric-" + name', '"node-row"', '"breaker"', '"data-node"', '"data-domain"', '"data-state"']) {
      expect(script).toContain(id);
    }
  });
});
