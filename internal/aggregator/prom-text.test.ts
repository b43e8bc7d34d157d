import { describe, expect, test } from "bun:test";
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import { createSidecarMetrics } from "../sidecar/telemetry/index.ts";
import { createDaemonMetrics } from "../telemetry/index.ts";
import { seededRandom } from "../testing/seeded-random.ts";
import { familyOf, parsePrometheusText, parsePromFloat, PromTextError, type MetricType, type ParseLimits, type Sample } from "./prom-text.ts";

const SEED = Number(process.env.PROM_TEXT_SEED ?? 0x5eed);
const REPLAY = `PROM_TEXT_SEED=${SEED} bun test internal/aggregator/prom-text.test.ts replays it`;

/** The error parsing `text` throws; fails the test when it parses. */
function refusal(text: string, limits?: ParseLimits): PromTextError {
  try {
    parsePrometheusText(text, limits);
  } catch (error) {
    if (error instanceof PromTextError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
}

function valueOf(token: string): number {
  const { samples } = parsePrometheusText(`m ${token}\n`);
  expect(samples).toHaveLength(1);
  return samples[0]!.value;
}

interface PromClientValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** What prom-client holds, as samples: the text it writes must parse back to exactly these. */
async function expectedSamples(registry: Registry, keep: (name: string) => boolean = () => true): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values as PromClientValue[]) {
      const name = v.metricName ?? metric.name;
      if (!keep(name)) continue;
      const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]));
      samples.push({ name, labels, value: v.value });
    }
  }
  return samples;
}

/** Order-free comparison key of a sample (label order in the text is prom-client's, not ours). */
function key(sample: Sample): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([sample.name, labels, String(sample.value)]);
}

describe("parsePrometheusText: what prom-client writes", () => {
  test("a labelled counter, gauges with every special value, a labelled histogram and a summary round-trip sample by sample", async () => {
    const registry = new Registry();
    const requests = new Counter({ name: "app_requests_total", help: 'Requests, "quoted" \\ and\nsplit.', labelNames: ["method", "path"], registers: [registry] });
    requests.inc({ method: "GET", path: "/" }, 3);
    requests.inc({ method: "POST", path: 'C:\\tmp "x"\nnext line' }, 2.5);
    requests.inc({ method: "PUT", path: "ünïcødé/✓" });
    const gauge = new Gauge({ name: "app_level", help: "Level.", labelNames: ["k"], registers: [registry] });
    gauge.set({ k: "nan" }, NaN);
    gauge.set({ k: "inf" }, Infinity);
    gauge.set({ k: "-inf" }, -Infinity);
    gauge.set({ k: "tiny" }, 5e-324);
    gauge.set({ k: "big" }, 1.7976931348623157e308);
    gauge.set({ k: "neg" }, -0.1);
    gauge.set({ k: "exp" }, 1.5e21);
    const duration = new Histogram({ name: "app_duration_seconds", help: "Duration.", labelNames: ["route"], buckets: [0.005, 0.1, 1], registers: [registry] });
    for (const [route, seconds] of [["/a", 0.001], ["/a", 0.3], ["/b", 7], ["/a", 0.1]] as const) duration.observe({ route }, seconds);
    const summary = new Summary({ name: "app_size_bytes", help: "Size.", percentiles: [0.5, 0.9, 0.99], registers: [registry] });
    for (const size of [10, 20, 30, 4000]) summary.observe(size);
    new Counter({ name: "app_unused_total", help: "Never incremented, labelled: a # TYPE with no samples.", labelNames: ["x"], registers: [registry] });

    const text = await registry.metrics();
    const { samples, types } = parsePrometheusText(text);
    const expected = await expectedSamples(registry);
    expect(expected.length).toBe(3 + 7 + 2 * 6 + 3 + 2);
    expect(samples.map(key).sort()).toEqual(expected.map(key).sort());
    expect(samples.find((s) => s.labels.method === "POST")?.labels.path).toBe('C:\\tmp "x"\nnext line');
    expect(samples.find((s) => s.labels.k === "nan")?.value).toBeNaN();
    expect(samples.find((s) => s.labels.k === "-inf")?.value).toBe(-Infinity);
    expect(samples.find((s) => s.name === "app_duration_seconds_bucket" && s.labels.route === "/a" && s.labels.le === "0.1")?.value).toBe(2);
    expect(samples.find((s) => s.name === "app_duration_seconds_bucket" && s.labels.route === "/b" && s.labels.le === "+Inf")?.value).toBe(1);
    expect(types).toEqual(
      new Map<string, MetricType>([
        ["app_requests_total", "counter"],
        ["app_level", "gauge"],
        ["app_duration_seconds", "histogram"],
        ["app_size_bytes", "summary"],
        ["app_unused_total", "counter"],
      ]),
    );
    for (const sample of samples) expect(familyOf(sample.name, types).type).not.toBe("untyped");
  });

  test("a sidecar's whole /metrics (the daemon's registry with the sidecar's metrics): every family typed, the mesh's samples exact", async () => {
    const daemon = createDaemonMetrics("sidecar");
    const sidecar = createSidecarMetrics(daemon.registry);
    for (const domain of ["communication", "execution"]) {
      sidecar.observeRequest("inbound", domain, "GET", 200, 0.004);
      sidecar.observeRequest("inbound", domain, "POST", 503, 0.2);
      sidecar.observeRequest("outbound", domain, "GET", "error", 3);
      sidecar.observeCrossNode(domain, 0.03);
      sidecar.breakerTransition(domain, "closed", "open");
      sidecar.retry(domain);
    }
    sidecar.setConfigRevision(42);
    daemon.httpRequestDuration.observe({ http_request_method: "GET", http_route: "/metrics", http_response_status_code: 200 }, 0.002);

    const { samples, types } = parsePrometheusText(await daemon.registry.metrics());
    const json = await daemon.registry.getMetricsAsJSON();
    expect(types.size).toBe(json.length);
    for (const metric of json) expect([metric.name, types.get(metric.name)]).toEqual([metric.name, String(metric.type) as MetricType]);
    for (const sample of samples) expect(types.has(familyOf(sample.name, types).family)).toBe(true);
    // Process metrics move between two reads of the registry; the mesh's own do not.
    const ours = (name: string) => name.startsWith("nagent_") || name.startsWith("http_");
    const expected = await expectedSamples(daemon.registry, ours);
    expect(expected.length).toBeGreaterThan(100);
    expect(samples.filter((s) => ours(s.name)).map(key).sort()).toEqual(expected.map(key).sort());
    const p = samples.find(
      (s) => s.name === "nagent_sidecar_request_duration_seconds_bucket" && s.labels.domain === "execution" && s.labels.status_class === "5xx" && s.labels.le === "0.25",
    );
    expect(p?.value).toBe(1);
    expect(samples.find((s) => s.name === "nagent_sidecar_config_revision")?.value).toBe(42);
  });
});

describe("parsePrometheusText: the grammar", () => {
  test("# HELP and # TYPE, comments, blank lines, labels with a trailing comma, empty braces", () => {
    const text = [
      "# A free comment, ignored: # TYPE inside it means nothing",
      "# HELP x_total Things \\\\ seen\\n so far.",
      "# TYPE x_total counter",
      'x_total{a="1",b="2",} 10',
      "",
      "   ",
      "# TYPE y gauge",
      "y{} 3",
      'y{a=""} 4',
      "z 5",
      "# HELPFUL is a comment, not a HELP line",
      "# EOF",
      "",
    ].join("\n");
    const { samples, types } = parsePrometheusText(text);
    expect(samples).toEqual([
      { name: "x_total", labels: { a: "1", b: "2" }, value: 10 },
      { name: "y", labels: {}, value: 3 },
      { name: "y", labels: { a: "" }, value: 4 },
      { name: "z", labels: {}, value: 5 },
    ]);
    expect([...types]).toEqual([
      ["x_total", "counter"],
      ["y", "gauge"],
    ]);
  });

  test("blanks and tabs around every token, and a metric name with colons", () => {
    const text = ' \t job:rate5m:sum \t{ \ta = "x" ,\tb="y" , } \t 7 \t 1700000000000 \t\n#\tTYPE\tc\tgauge \t\nc\t1\n';
    const { samples, types } = parsePrometheusText(text);
    expect(samples).toEqual([
      { name: "job:rate5m:sum", labels: { a: "x", b: "y" }, value: 7 },
      { name: "c", labels: {}, value: 1 },
    ]);
    expect(types.get("c")).toBe("gauge");
  });

  test("every escape in label values: \\\\, \\\" and \\n, alone, together and next to each other", () => {
    const cases: [string, string][] = [
      ["\\\\", "\\"],
      ['\\"', '"'],
      ["\\n", "\n"],
      ["\\\\n", "\\n"], // an escaped backslash, then a plain n
      ['\\\\\\"', '\\"'],
      ['a\\"b\\\\c\\nd', 'a"b\\c\nd'],
      ["\\n\\n", "\n\n"],
      ["x\\\\", "x\\"], // ends with an escaped backslash: the quote after it closes the value
      ["}, # =", "}, # ="],
    ];
    const text = cases.map(([raw], i) => `m{i="${i}",v="${raw}",w="after"} ${i}\n`).join("");
    const { samples } = parsePrometheusText(text);
    expect(samples.map((s) => s.labels.v)).toEqual(cases.map(([, value]) => value));
    expect(samples.every((s) => s.labels.w === "after")).toBe(true);
  });

  test("every special float, in the cases Go's ParseFloat allows", () => {
    for (const token of ["NaN", "nan", "Nan", "NAN", "nAn"]) expect(valueOf(token)).toBeNaN();
    for (const token of ["+Inf", "Inf", "inf", "+inf", "INF", "+Infinity", "infinity", "InFiNiTy"]) expect(valueOf(token)).toBe(Infinity);
    for (const token of ["-Inf", "-inf", "-INF", "-Infinity", "-infinity"]) expect(valueOf(token)).toBe(-Infinity);
  });

  test("integers, decimals and exponents read as Go's ParseFloat would", () => {
    const cases: [string, number][] = [
      ["0", 0],
      ["-0", -0],
      ["+7", 7],
      ["42", 42],
      ["-17", -17],
      ["007", 7],
      ["1.5", 1.5],
      [".5", 0.5],
      ["5.", 5],
      ["-.25", -0.25],
      ["0.1", 0.1],
      ["1e3", 1000],
      ["1E3", 1000],
      ["1e+3", 1000],
      ["2.5e-3", 0.0025],
      ["-1.5E-7", -1.5e-7],
      ["1.5e21", 1.5e21],
      ["12345678901234567890", 12345678901234567890],
      ["0.12345678901234568", 0.12345678901234568],
      ["3.141592653589793", Math.PI],
      ["1.7976931348623157e308", Number.MAX_VALUE],
      ["5e-324", Number.MIN_VALUE],
      ["1e-400", 0], // underflow is 0 in Go too, not an error
      ["9007199254740993", 9007199254740992], // 2^53 + 1 rounds to even
      ["1e0000000000000000000000002", 100],
    ];
    for (const [token, value] of cases) expect([token, valueOf(token)]).toEqual([token, value]);
    expect(Object.is(valueOf("-0"), -0)).toBe(true);
    expect(Object.is(valueOf("-0.0e5"), -0)).toBe(true);
  });

  test(`any double written by JavaScript or as a short decimal reads back exactly (seeded; ${REPLAY})`, () => {
    const random = seededRandom(SEED);
    try {
      for (let n = 0; n < 20_000; n++) {
        // Random bits as a double: every magnitude, subnormals included.
        const bits = new DataView(new ArrayBuffer(8));
        bits.setUint32(0, Math.floor(random() * 2 ** 32));
        bits.setUint32(4, Math.floor(random() * 2 ** 32));
        const double = bits.getFloat64(0);
        if (Number.isFinite(double)) expect(parsePromFloat(String(double))).toBe(double);
        // Decimals with up to 17 digits and exponents around the fast path's edges.
        const digits = String(Math.floor(random() * 10 ** (1 + Math.floor(random() * 17))));
        const point = Math.floor(random() * (digits.length + 1));
        const exponent = Math.floor(random() * 60) - 30;
        const token = `${random() < 0.5 ? "-" : ""}${digits.slice(0, point)}.${digits.slice(point)}e${exponent}`;
        expect([token, parsePromFloat(token)]).toEqual([token, Number(token)]);
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${REPLAY}`);
    }
  });

  test("a timestamp is accepted (int64, signed) and dropped", () => {
    const { samples } = parsePrometheusText('a 1 1700000000000\nb{x="y"} 2 -1\nc 3 0\nd 4\t+9223372036854775807\ne 5 -9223372036854775808\nf 6 0000000000000000000000001\n');
    expect(samples).toEqual([
      { name: "a", labels: {}, value: 1 },
      { name: "b", labels: { x: "y" }, value: 2 },
      { name: "c", labels: {}, value: 3 },
      { name: "d", labels: {}, value: 4 },
      { name: "e", labels: {}, value: 5 },
      { name: "f", labels: {}, value: 6 },
    ]);
  });

  test("CRLF line ends read as LF ones, and errors still name the right line", () => {
    const lf = '# HELP a A.\n# TYPE a histogram\na_bucket{le="1",x="y"} 1 17\na_bucket{le="+Inf",x="y"} 2\na_sum{x="y"} 3.5\na_count{x="y"} 2\n\n';
    const crlf = lf.replaceAll("\n", "\r\n");
    expect(parsePrometheusText(crlf)).toEqual(parsePrometheusText(lf));
    expect(parsePrometheusText(crlf).samples).toHaveLength(4);
    expect(refusal("a 1\r\n\r\nb 2\r\nc x\r\n").line).toBe(4);
  });

  test("the last line may lack its line feed; an empty text has no samples", () => {
    expect(parsePrometheusText("a 1\nb 2").samples.map((s) => s.value)).toEqual([1, 2]);
    expect(parsePrometheusText("")).toEqual({ samples: [], types: new Map() });
    expect(parsePrometheusText("\n\n# only comments\n").samples).toEqual([]);
  });

  test("names and values that repeat from line to line are not mixed up with ones that only look alike", () => {
    const text = [
      'm{le="1",method="GET"} 1',
      'm{le="1",method="PUT"} 2', // same length, other value
      'm{lex="1",method="GET"} 3', // a longer label name starting like the last one
      'm{method="GET",le="1"} 4', // the same names, in the other order
      'mm{le="1"} 5', // a longer metric name starting like the last one
      "m_sum 6",
      "m 7",
      'm{le="10"} 8',
      "m{ le = \"1\" } 9",
    ].join("\n");
    expect(parsePrometheusText(text).samples).toEqual([
      { name: "m", labels: { le: "1", method: "GET" }, value: 1 },
      { name: "m", labels: { le: "1", method: "PUT" }, value: 2 },
      { name: "m", labels: { lex: "1", method: "GET" }, value: 3 },
      { name: "m", labels: { method: "GET", le: "1" }, value: 4 },
      { name: "mm", labels: { le: "1" }, value: 5 },
      { name: "m_sum", labels: {}, value: 6 },
      { name: "m", labels: {}, value: 7 },
      { name: "m", labels: { le: "10" }, value: 8 },
      { name: "m", labels: { le: "1" }, value: 9 },
    ]);
  });

  test("label names that are Object.prototype's keys are plain own labels", () => {
    const [sample] = parsePrometheusText('a{__proto__="p",constructor="c",toString="t",hasOwnProperty="h"} 1\n').samples;
    expect(Object.keys(sample!.labels)).toEqual(["__proto__", "constructor", "toString", "hasOwnProperty"]);
    expect(Object.getPrototypeOf(sample!.labels)).toBe(Object.prototype);
    expect(sample!.labels["constructor"] as unknown).toBe("c");
    expect(Object.getOwnPropertyDescriptor(sample!.labels, "__proto__")?.value).toBe("p");
  });
});

describe("parsePrometheusText: refusals name their line", () => {
  // Each bad line is line 3, after a good sample and a blank line.
  const cases: [string, string, RegExp][] = [
    ["no value", "a", /no value after "a"/],
    ["no value after labels", 'a{b="c"}', /no value/],
    ["three tokens after the name", "a 1 2 3", /unexpected "3" after the timestamp/],
    ["label set never closed", 'a{b="c" 1', /expected ',' or '}'/],
    ["label set cut at the brace", "a{", /not closed/],
    ["label without =", "a{b} 1", /expected '=' after label name "b"/],
    ["label without a quoted value", "a{b=c} 1", /expected '"' to open the value of label "b"/],
    ["two commas", 'a{b="c",,d="e"} 1', /expected a label name/],
    ["comma alone", "a{,} 1", /expected a label name/],
    ["unterminated value", 'a{b="c} 1', /unterminated value of label "b"/],
    ["unterminated: the last quote is escaped", 'a{b="c\\"} 1', /unterminated value of label "b"/],
    ["unterminated: a backslash ends the line", 'a{b="c\\', /unterminated value of label "b"/],
    ["escape \\t", 'a{b="\\t"} 1', /invalid escape "\\\\t" in the value of label "b"/],
    ["escape \\x after a good one", 'a{b="\\n\\x"} 1', /invalid escape "\\\\x"/],
    ["escape \\' ", "a{b=\"\\'\"} 1", /invalid escape/],
    ["escape in # HELP", "# HELP a tab\\there", /invalid escape "\\\\t" in # HELP a/],
    ["backslash ending # HELP", "# HELP a trailing \\", /invalid escape "\\\\" in # HELP a/],
    ["duplicate label", 'a{b="1",b="2"} 1', /label "b" appears twice/],
    ["duplicate label, apart", 'a{b="1",c="2",b="3"} 1', /label "b" appears twice/],
    ["__name__ label", 'a{__name__="x"} 1', /"__name__" is reserved/],
    ["name starting with a digit", "1a 1", /invalid metric name "1a"/],
    ["name with a dash", "a-b 1", /invalid metric name "a-b"/],
    ["name with a dot", 'a.b{c="d"} 1', /invalid metric name "a.b"/],
    ["name not ASCII", "é 1", /invalid metric name "é"/],
    ["quoted (UTF-8) name", '{"a.b"} 1', /invalid metric name "\{\\"a.b\\"}"/],
    ["label name starting with a digit", 'a{1b="c"} 1', /invalid label name "1b"/],
    ["label name with a colon", 'a{b:c="d"} 1', /invalid label name "b:c"/],
    ["label name with a dash", 'a{b-c="d"} 1', /invalid label name "b-c"/],
    ["invalid name in # TYPE", "# TYPE a-b counter", /invalid metric name "a-b"/],
    ["value a word", "a x", /value "x" is not a number/],
    ["value with a suffix", "a 1x", /value "1x" is not a number/],
    ["value hex float", "a 0x1p3", /value "0x1p3" is not a number/],
    ["value hex integer", "a 0x10", /not a number/],
    ["value with underscores", "a 1_000", /not a number/],
    ["signed NaN", "a +NaN", /not a number/],
    ["truncated Infinity", "a infinit", /not a number/],
    ["a lone dot", "a .", /not a number/],
    ["an exponent without digits", "a 1e", /not a number/],
    ["two signs", "a --1", /not a number/],
    ["a comma decimal", "a 1,5", /not a number/],
    ["an overflow", "a 1e400", /value "1e400" is out of the float64 range/],
    ["a negative overflow", "a -2e308", /out of the float64 range/],
    ["a carriage return inside the line", "a 1\rb 2", /not a number/],
    ["timestamp a float", "a 1 1.5", /timestamp "1.5" is not an integer/],
    ["timestamp a word", "a 1 now", /timestamp "now" is not an integer/],
    ["timestamp past int64", "a 1 9223372036854775808", /timestamp "9223372036854775808"/],
    ["timestamp below int64", "a 1 -9223372036854775809", /timestamp/],
    ["timestamp of 20 digits", "a 1 12345678901234567890", /timestamp/],
    ["timestamp a sign alone", "a 1 -", /timestamp "-"/],
    ["# TYPE without a type", "# TYPE a", /# TYPE a without a type/],
    ["# TYPE unknown", "# TYPE a gaugehistogram", /unknown metric type "gaugehistogram"/],
    ["# TYPE in capitals", "# TYPE a Counter", /unknown metric type "Counter"/],
    ["# TYPE with more after it", "# TYPE a counter extra", /unexpected "extra" after # TYPE a/],
  ];
  for (const [what, line, message] of cases) {
    test(what, () => {
      const error = refusal(`ok 1\n\n${line}\nafter 2\n`);
      expect(error).toBeInstanceOf(PromTextError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe("PromTextError");
      expect(error.line).toBe(3);
      expect(error.message).toMatch(message);
    });
  }

  test("a second # TYPE for a family, however it is named", () => {
    expect(refusal("# TYPE a counter\n# TYPE a counter\n")).toMatchObject({ line: 2, message: "second # TYPE for a" });
    expect(refusal("# TYPE a counter\n\n# TYPE a gauge\n")).toMatchObject({ line: 3, message: "second # TYPE for a" });
    // x_bucket is histogram x's: typing it again is typing x again.
    expect(refusal("# TYPE x histogram\n# TYPE x_bucket gauge\n")).toMatchObject({ line: 2, message: "second # TYPE for x" });
    expect(refusal("# TYPE s summary\n# TYPE s_count counter\n")).toMatchObject({ line: 2, message: "second # TYPE for s" });
    expect(refusal("# TYPE x_sum gauge\n# TYPE x histogram\n").message).toMatch(/would take in x_sum/);
    // Gauges have no suffixed series: g and g_sum are two families.
    expect(parsePrometheusText("# TYPE g gauge\n# TYPE g_sum gauge\n").types.size).toBe(2);
  });

  test("a # TYPE after its family's samples, suffixed ones included", () => {
    expect(refusal("a 1\n# TYPE a gauge\n")).toMatchObject({ line: 2, message: "# TYPE a comes after samples of a" });
    expect(refusal('x_bucket{le="1"} 1\nx_sum 1\n# TYPE x histogram\n')).toMatchObject({ line: 3 });
    expect(refusal("c_total 1\n# TYPE c counter\n").message).toMatch(/after samples of c_total/);
    // Another family's samples before it are fine.
    expect(parsePrometheusText("a 1\n# TYPE b gauge\nb 2\n").types.get("b")).toBe("gauge");
  });

  test("a second # HELP for a name", () => {
    expect(refusal("# HELP a A.\n# TYPE a gauge\n# HELP a Again.\n")).toMatchObject({ line: 3, message: "second # HELP for a" });
  });

  test("a histogram bucket's le and a summary's quantile must be floats (missing, as Prometheus allows, they may be)", () => {
    const histogram = "# TYPE h histogram\n";
    expect(refusal(`${histogram}h_bucket{le="1"} 1\nh_bucket{le="big"} 1\n`)).toMatchObject({ line: 3, message: 'h_bucket has "le" "big", not a number' });
    expect(refusal(`${histogram}h_bucket{le=""} 1\n`).line).toBe(2);
    expect(parsePrometheusText(`${histogram}h_bucket{le="+Inf"} 1\nh_bucket 1\nh_sum{le="x"} 1\nh_count 1\n`).samples).toHaveLength(4);
    const summary = "# TYPE s summary\n";
    expect(refusal(`${summary}s{quantile="half"} 1\n`)).toMatchObject({ line: 2, message: 's has "quantile" "half", not a number' });
    expect(parsePrometheusText(`${summary}s{quantile="0.5"} 1\ns 1\ns_sum{quantile="x"} 2\ns_count 1\n`).samples).toHaveLength(4);
    // Untyped, the same names carry no such duty.
    expect(parsePrometheusText('h_bucket{le="big"} 1\ns{quantile="half"} 2\n').samples).toHaveLength(2);
  });

  test("an error quotes a long token short", () => {
    const error = refusal(`a ${"9".repeat(10_000)}x\n`);
    expect(error.message.length).toBeLessThan(120);
    expect(error.message).toMatch(/^value "9{40}"… is not a number$/);
  });
});

describe("parsePrometheusText: limits", () => {
  test("maxSamples: as many samples as allowed parse; one more is refused on its line", () => {
    const three = "a 1\n# comment\nb 2\nc 3\n";
    expect(parsePrometheusText(three, { maxSamples: 3 }).samples).toHaveLength(3);
    expect(refusal(`${three}d 4\n`, { maxSamples: 3 })).toMatchObject({ line: 5, message: "more than 3 samples (the limit)" });
    expect(refusal("# TYPE a gauge\n# TYPE b gauge\n# TYPE c gauge\n", { maxSamples: 2 })).toMatchObject({ line: 3 });
    expect(refusal("# HELP a A\n# HELP b B\n# HELP c C\n", { maxSamples: 2 })).toMatchObject({ line: 3 });
  });

  test("maxSamples defaults to 200 000", () => {
    const lines = "a 1\n".repeat(200_000);
    expect(parsePrometheusText(lines).samples).toHaveLength(200_000);
    expect(refusal(`${lines}a 1\n`)).toMatchObject({ line: 200_001, message: "more than 200000 samples (the limit)" });
  });

  test("maxLineLength: a line of exactly the limit parses, one character more is refused; CRLF does not count", () => {
    const line = (length: number) => `a{v="${"x".repeat(length - 9)}"} 1`;
    expect(line(100)).toHaveLength(100);
    expect(parsePrometheusText(`b 1\n${line(100)}\r\n`, { maxLineLength: 100 }).samples).toHaveLength(2);
    expect(refusal(`b 1\n${line(101)}\n`, { maxLineLength: 100 })).toMatchObject({ line: 2, message: "line longer than 100 characters (the limit)" });
    expect(refusal(`# ${"c".repeat(200)}\n`, { maxLineLength: 100 }).line).toBe(1);
  });

  test("maxLineLength defaults to 65 536: one gigantic line of garbage is refused without parsing it", () => {
    const garbage = `ok 1\n${"{".repeat(20_000_000)}`;
    const error = refusal(garbage);
    expect(error).toMatchObject({ line: 2, message: "line longer than 65536 characters (the limit)" });
    expect(parsePrometheusText(`a{v="${"x".repeat(65_536 - 9)}"} 1`).samples).toHaveLength(1);
  });

  test("maxLabels: as many labels as allowed parse, one more is refused (default 64)", () => {
    const labels = (n: number) => `a{${Array.from({ length: n }, (_, i) => `l${i}="${i}"`).join(",")}} 1\n`;
    expect(Object.keys(parsePrometheusText(labels(3), { maxLabels: 3 }).samples[0]!.labels)).toHaveLength(3);
    expect(refusal(`b 1\n${labels(4)}`, { maxLabels: 3 })).toMatchObject({ line: 2, message: "more than 3 labels on one sample (the limit)" });
    expect(Object.keys(parsePrometheusText(labels(64)).samples[0]!.labels)).toHaveLength(64);
    expect(refusal(labels(65)).message).toBe("more than 64 labels on one sample (the limit)");
  });
});

describe("familyOf", () => {
  const types = new Map<string, MetricType>([
    ["h", "histogram"],
    ["s", "summary"],
    ["c", "counter"], // OpenMetrics names the counter without _total
    ["requests_total", "counter"], // 0.0.4 names it with
    ["g", "gauge"],
    ["u", "untyped"],
    ["x_count", "gauge"],
    ["x", "summary"],
  ]);
  const cases: [string, string, MetricType][] = [
    ["h", "h", "histogram"],
    ["h_bucket", "h", "histogram"],
    ["h_sum", "h", "histogram"],
    ["h_count", "h", "histogram"],
    ["h_created", "h", "histogram"],
    ["h_total", "h_total", "untyped"],
    ["s", "s", "summary"],
    ["s_sum", "s", "summary"],
    ["s_count", "s", "summary"],
    ["s_created", "s", "summary"],
    ["s_bucket", "s_bucket", "untyped"],
    ["c", "c", "counter"],
    ["c_total", "c", "counter"],
    ["c_created", "c", "counter"],
    ["c_sum", "c_sum", "untyped"],
    ["requests_total", "requests_total", "counter"],
    ["g", "g", "gauge"],
    ["g_sum", "g_sum", "untyped"],
    ["g_total", "g_total", "untyped"],
    ["u_count", "u_count", "untyped"],
    ["x_count", "x_count", "gauge"], // its own # TYPE wins over summary x's suffix
    ["x_sum", "x", "summary"],
    ["unknown", "unknown", "untyped"],
    ["_bucket", "_bucket", "untyped"],
    ["h_bucket_bucket", "h_bucket_bucket", "untyped"],
  ];
  for (const [name, family, type] of cases) {
    test(`${name} → ${family} (${type})`, () => {
      expect(familyOf(name, types)).toEqual({ family, type });
    });
  }
});

describe("parsePromFloat", () => {
  test("reads le and quantile label values, refuses what is not a float", () => {
    expect(parsePromFloat("+Inf")).toBe(Infinity);
    expect(parsePromFloat("0.005")).toBe(0.005);
    expect(parsePromFloat("1e+06")).toBe(1e6);
    expect(parsePromFloat("NaN")).toBeNaN();
    for (const bad of ["", " 1", "1 ", "abc", "0x1", "1_0", "+", "-", "e5", "1e400"]) expect([bad, parsePromFloat(bad)]).toEqual([bad, undefined]);
  });
});
