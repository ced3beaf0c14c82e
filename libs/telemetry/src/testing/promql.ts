// Pulls metric names and label names out of a PromQL expression, enough to check dashboards and
// alert rules against the metric catalogue. Not a parser: `promtool check rules` judges syntax.

const FUNCTIONS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'avg_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'count_over_time',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'delta',
  'deriv',
  'exp',
  'floor',
  'histogram_quantile',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'irate',
  'label_join',
  'label_replace',
  'last_over_time',
  'ln',
  'log10',
  'log2',
  'max_over_time',
  'min_over_time',
  'minute',
  'month',
  'predict_linear',
  'present_over_time',
  'quantile_over_time',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sort',
  'sort_desc',
  'sqrt',
  'stddev_over_time',
  'stdvar_over_time',
  'sum_over_time',
  'time',
  'timestamp',
  'vector',
  'year',
]);
const AGGREGATORS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** keywords followed by a parenthesised list of label names */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

export interface PromqlNames {
  metrics: Set<string>;
  labels: Set<string>;
}

type Tok = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

function tokenize(expr: string): Tok[] {
  const out: Tok[] = [];
  const re =
    /\s+|#[^\n]*|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|([A-Za-z_:][A-Za-z0-9_:]*)|([0-9][0-9A-Za-z_.]*)|(=~|!~|!=|==|>=|<=|[-+*/%^=<>(){}[\],:@])/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < expr.length && (m = re.exec(expr))) {
    if (m[1]) out.push({ kind: 'string', text: m[1] });
    else if (m[2]) out.push({ kind: 'ident', text: m[2] });
    else if (m[3]) out.push({ kind: 'number', text: m[3] });
    else if (m[4]) out.push({ kind: 'punct', text: m[4] });
  }
  if (re.lastIndex < expr.length)
    throw new Error(`cannot tokenize PromQL at ${re.lastIndex}: ${expr.slice(re.lastIndex, re.lastIndex + 20)}`);
  return out;
}

export function promqlNames(expr: string): PromqlNames {
  const toks = tokenize(expr);
  const metrics = new Set<string>();
  const labels = new Set<string>();
  let brace = 0;
  let bracket = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t.kind === 'punct') {
      if (t.text === '{') brace++;
      else if (t.text === '}') brace--;
      else if (t.text === '[') bracket++;
      else if (t.text === ']') bracket--;
      continue;
    }
    if (t.kind !== 'ident' || bracket > 0) continue;
    if (brace > 0) {
      // inside a selector: `label op "value"`
      const op = toks[i + 1]?.text;
      if (op === '=' || op === '!=' || op === '=~' || op === '!~') labels.add(t.text);
      continue;
    }
    if (LABEL_LISTS.has(t.text)) {
      if (toks[i + 1]?.text !== '(') continue; // group_left without a list
      let j = i + 2;
      for (; j < toks.length && toks[j].text !== ')'; j++) if (toks[j].kind === 'ident') labels.add(toks[j].text);
      i = j;
      continue;
    }
    if (FUNCTIONS.has(t.text) || AGGREGATORS.has(t.text) || KEYWORDS.has(t.text.toLowerCase())) continue;
    metrics.add(t.text);
  }
  return { metrics, labels };
}

/** Grafana's variables replaced by values PromQL accepts, for syntax checks and name extraction. */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}|\$\{__range\}/g, '5m')
    .replace(/\$\{?(\w+)\}?/g, 'var_$1');
}
