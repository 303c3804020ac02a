import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as nbformat from '@jupyterlab/nbformat';
import { NotebookPanel } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { NbhygieneError, postAPI, requestAPI } from './request';
import { saveBeforeUsingFile } from './saving';

type JSONValue =
  null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** One run, as `nbhygiene runs list --format json` shows it (paths are API paths). */
export interface IRun {
  id: string;
  key: string;
  status:
    'succeeded' | 'failed' | 'timeout' | 'interrupted' | 'cached' | 'running';
  cached: boolean;
  params: Record<string, JSONValue>;
  metrics: Record<string, JSONValue>;
  output_notebook: string | null;
  started_at: string;
  duration_s: number | null;
  error: { message?: string } | null;
}

/** `GET /nbhygiene/runs?path=`. */
export interface IRunsReply {
  notebook: string;
  store: string | null;
  parameters: {
    cell_index: number | null;
    defaults: Record<string, JSONValue>;
    computed: Record<string, string>;
  };
  runs: IRun[];
  pending: {
    params: Record<string, JSONValue>;
    started_at: string;
    state: string;
    error: string | null;
  }[];
}

function text<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  content: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = content; // parameters, metrics and outputs come from the notebook: text only
  return node;
}

function errorMessage(error: unknown): string {
  return error instanceof NbhygieneError ? error.message : String(error);
}

export function fetchRuns(path: string): Promise<IRunsReply> {
  return requestAPI<IRunsReply>(`runs?path=${encodeURIComponent(path)}`);
}

function short(value: JSONValue): string {
  const shown =
    typeof value === 'number'
      ? String(Number(value.toPrecision(6)))
      : JSON.stringify(value);
  return shown.length > 40 ? `${shown.slice(0, 39)}…` : shown;
}

function pairs(values: Record<string, JSONValue>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${short(value)}`)
    .join(', ');
}

/**
 * The parameters form, built from the notebook's `parameters` cell: one field per parameter, holding
 * its default. Only the values the user changed are sent.
 */
class RunForm
  extends Widget
  implements Dialog.IBodyWidget<Record<string, JSONValue> | Error>
{
  constructor(private readonly _parameters: IRunsReply['parameters']) {
    super();
    this.addClass('jp-nbhygiene-run-form');
    const names = [
      ...Object.keys(_parameters.defaults),
      ...Object.keys(_parameters.computed)
    ];
    this.node.appendChild(
      text(
        'p',
        '',
        names.length
          ? 'Values are JSON (numbers, "strings", lists, ...). A run with the same code, parameters and environment as an earlier successful run is answered from the store.'
          : 'The parameters cell sets no value: the run uses the notebook as it is.'
      )
    );
    for (const [name, value] of Object.entries(_parameters.defaults)) {
      const input = document.createElement('input');
      input.className = 'jp-mod-styled jp-nbhygiene-run-param';
      input.dataset.name = name;
      if (typeof value === 'boolean') {
        input.type = 'checkbox';
        input.checked = value;
      } else {
        input.value = JSON.stringify(value);
      }
      this._inputs.set(name, input);
      this.node.appendChild(this._field(name, input));
    }
    for (const [name, expression] of Object.entries(_parameters.computed)) {
      const input = document.createElement('input');
      input.className = 'jp-mod-styled jp-nbhygiene-run-param';
      input.dataset.name = name;
      input.placeholder = `computed: ${expression}`;
      this._inputs.set(name, input);
      this.node.appendChild(this._field(name, input));
    }
    this._force.type = 'checkbox';
    this._force.className = 'jp-nbhygiene-run-force';
    const force = text(
      'label',
      'jp-nbhygiene-run-field jp-nbhygiene-run-check',
      'Run again even if cached'
    );
    force.prepend(this._force);
    this.node.appendChild(force);
  }

  get force(): boolean {
    return this._force.checked;
  }

  getValue(): Record<string, JSONValue> | Error {
    const params: Record<string, JSONValue> = {};
    for (const [name, input] of this._inputs) {
      const defaults = this._parameters.defaults;
      if (input.type === 'checkbox') {
        if (input.checked !== defaults[name]) {
          params[name] = input.checked;
        }
        continue;
      }
      const raw = input.value.trim();
      if (!raw) {
        continue; // a computed default left as it is
      }
      let value: JSONValue;
      try {
        value = JSON.parse(raw) as JSONValue;
      } catch {
        if (typeof defaults[name] === 'string' || !(name in defaults)) {
          value = raw; // a bare word for a string parameter
        } else {
          return new Error(`${name}: ${raw} is not a JSON value`);
        }
      }
      if (
        !(name in defaults) ||
        JSON.stringify(value) !== JSON.stringify(defaults[name])
      ) {
        params[name] = value;
      }
    }
    return params;
  }

  private _field(name: string, input: HTMLInputElement): HTMLElement {
    const label = text('label', 'jp-nbhygiene-run-field', name);
    label.appendChild(input);
    return label;
  }

  private _inputs = new Map<string, HTMLInputElement>();
  private _force = document.createElement('input');
}

/**
 * "Run notebook as a versioned job...": the saved notebook runs in a fresh kernel on the server and
 * lands in the run store; returns true when a run was started.
 */
export async function runNotebook(panel: NotebookPanel): Promise<boolean> {
  const context = panel.context;
  const saved = await saveBeforeUsingFile(
    context,
    'Save Before Running?',
    'A run executes the saved notebook. Save your changes first?'
  );
  if (!saved) {
    return false;
  }
  let info: IRunsReply;
  try {
    info = await fetchRuns(context.localPath);
  } catch (error) {
    await showDialog({
      title: 'Cannot Run This Notebook',
      body: errorMessage(error),
      buttons: [Dialog.okButton()]
    });
    return false;
  }
  if (info.parameters.cell_index === null) {
    await showDialog({
      title: 'No Parameters Cell',
      body:
        'No code cell is tagged "parameters", so a run has nothing to vary (rule missing-parameters-cell). ' +
        'Put the values a run may change into one code cell and give it the tag "parameters" ' +
        '(Property Inspector → Cell Tags).',
      buttons: [Dialog.okButton()]
    });
    return false;
  }
  const form = new RunForm(info.parameters);
  for (;;) {
    const answer = await showDialog({
      title: 'Run Notebook as a Versioned Job',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })]
    });
    if (!answer.button.accept) {
      return false;
    }
    const params = answer.value;
    if (params instanceof Error || params === null) {
      await showDialog({
        title: 'Invalid Parameter',
        body: params ? params.message : 'no value',
        buttons: [Dialog.okButton()]
      });
      continue;
    }
    try {
      await postAPI('runs', {
        path: context.localPath,
        params,
        force: form.force
      });
      return true;
    } catch (error) {
      await showDialog({
        title: 'Run Not Started',
        body: errorMessage(error),
        buttons: [Dialog.okButton()]
      });
      return false;
    }
  }
}

const SVG = 'http://www.w3.org/2000/svg';
// Terminal colour codes in tracebacks.
const ANSI_ESCAPES = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');

/** A small line chart of one metric over the successful runs, oldest first. */
function trendChart(runs: IRun[], metric: string): SVGSVGElement {
  const points = runs
    .filter(
      run =>
        (run.status === 'succeeded' || run.status === 'cached') &&
        typeof run.metrics[metric] === 'number'
    )
    .sort((a, b) => a.started_at.localeCompare(b.started_at))
    .map(run => ({ run, value: run.metrics[metric] as number }));
  const width = 360;
  const height = 90;
  const pad = 12;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'jp-nbhygiene-trend');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${metric} over ${points.length} run(s)`);
  if (!points.length) {
    return svg;
  }
  const values = points.map(p => p.value);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const x = (i: number): number =>
    points.length === 1
      ? width / 2
      : pad + (i * (width - 2 * pad)) / (points.length - 1);
  const y = (v: number): number =>
    high === low
      ? height / 2
      : height - pad - ((v - low) * (height - 2 * pad)) / (high - low);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute(
    'points',
    points.map((p, i) => `${x(i)},${y(p.value)}`).join(' ')
  );
  line.setAttribute('class', 'jp-nbhygiene-trend-line');
  svg.appendChild(line);
  points.forEach((point, i) => {
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', String(x(i)));
    dot.setAttribute('cy', String(y(point.value)));
    dot.setAttribute('r', '3');
    dot.setAttribute('class', 'jp-nbhygiene-trend-dot');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${point.run.id}: ${metric} = ${point.value} (${pairs(point.run.params)})`;
    dot.appendChild(title);
    svg.appendChild(dot);
  });
  for (const [value, top] of [
    [high, pad - 2],
    [low, height - 2]
  ] as const) {
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', '2');
    label.setAttribute('y', String(top));
    label.setAttribute('class', 'jp-nbhygiene-trend-label');
    label.textContent = short(value);
    svg.appendChild(label);
  }
  return svg;
}

/** A run's output notebook, read-only, as text (and images): nothing from it is rendered as HTML. */
export class RunOutputWidget extends Widget {
  constructor(notebook: nbformat.INotebookContent, runId: string) {
    super();
    this.addClass('jp-nbhygiene-run-output');
    this.id = `nbhygiene-run-output-${runId}`;
    this.title.label = `Run ${runId}`;
    this.title.closable = true;
    const flat = (value: unknown): string =>
      Array.isArray(value) ? value.join('') : String(value ?? '');
    for (const cell of notebook.cells) {
      const block = text(
        'div',
        `jp-nbhygiene-run-cell jp-nbhygiene-run-cell-${cell.cell_type}`,
        ''
      );
      block.appendChild(
        text('pre', 'jp-nbhygiene-run-source', flat(cell.source))
      );
      for (const output of (cell.outputs as nbformat.IOutput[] | undefined) ??
        []) {
        if (output.output_type === 'stream') {
          block.appendChild(
            text('pre', 'jp-nbhygiene-run-stream', flat(output.text))
          );
        } else if (output.output_type === 'error') {
          const traceback = flat(
            (output.traceback as string[]).join('\n')
          ).replace(ANSI_ESCAPES, '');
          block.appendChild(
            text(
              'pre',
              'jp-nbhygiene-run-error',
              traceback || `${output.ename}: ${output.evalue}`
            )
          );
        } else {
          const data = (output.data ?? {}) as Record<string, unknown>;
          if (typeof data['image/png'] === 'string') {
            const image = document.createElement('img');
            image.src = `data:image/png;base64,${flat(data['image/png']).replace(/\s/g, '')}`;
            image.alt = 'figure';
            block.appendChild(image);
          } else if (data['text/plain'] !== undefined) {
            block.appendChild(
              text('pre', 'jp-nbhygiene-run-result', flat(data['text/plain']))
            );
          }
        }
      }
      this.node.appendChild(block);
    }
  }
}

/**
 * The run history of a notebook: status, parameters, metrics, a link to each output notebook and a
 * trend chart of a chosen metric. It polls while runs are in flight.
 */
export class RunHistoryWidget extends Panel {
  constructor(
    readonly path: string,
    private readonly _commands: CommandRegistry
  ) {
    super();
    this.addClass('jp-nbhygiene-runs');
    this.id = `nbhygiene-runs-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.title.label = `Runs: ${path.split('/').pop()}`;
    this.title.closable = true;
    const header = text('div', 'jp-nbhygiene-runs-header', '');
    header.appendChild(
      text('h2', 'jp-nbhygiene-runs-title', `Runs of ${path}`)
    );
    const refresh = text(
      'button',
      'jp-mod-styled jp-nbhygiene-runs-refresh',
      'Refresh'
    );
    refresh.addEventListener('click', () => void this.refresh());
    header.appendChild(refresh);
    this._body.node.append(header, this._status, this._chartBox, this._table);
    this._chartBox.className = 'jp-nbhygiene-runs-chart';
    this._status.className = 'jp-nbhygiene-runs-status';
    this._table.className = 'jp-nbhygiene-runs-table';
    this.addWidget(this._body);
  }

  /** Poll the store now, and again while runs are in flight. */
  async refresh(): Promise<void> {
    window.clearTimeout(this._timer);
    let reply: IRunsReply;
    try {
      reply = await fetchRuns(this.path);
    } catch (error) {
      this._status.textContent = `Cannot read the run history: ${errorMessage(error)}`;
      return;
    }
    if (this.isDisposed) {
      return;
    }
    this._render(reply);
    const busy =
      reply.runs.some(run => run.status === 'running') ||
      reply.pending.some(p => p.state === 'starting');
    if (busy) {
      this._timer = window.setTimeout(() => void this.refresh(), 1500);
    }
  }

  protected onAfterShow(msg: Message): void {
    void this.refresh();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  private _render(reply: IRunsReply): void {
    const running = reply.runs.filter(run => run.status === 'running').length;
    const starting = reply.pending.filter(p => p.state === 'starting').length;
    this._status.textContent =
      `${reply.runs.length} run(s)` +
      (running + starting ? ` · ${running + starting} in progress` : '') +
      (reply.store ? ` · store: ${reply.store}` : '');
    this.node.dataset.runs = String(reply.runs.length);
    this.node.dataset.busy = String(running + starting > 0);

    const metrics = [
      ...new Set(
        reply.runs.flatMap(run =>
          Object.keys(run.metrics).filter(
            name => typeof run.metrics[name] === 'number'
          )
        )
      )
    ].sort();
    this._chartBox.replaceChildren();
    if (metrics.length) {
      if (!metrics.includes(this._metric)) {
        this._metric = metrics[0];
      }
      const select = document.createElement('select');
      select.className = 'jp-mod-styled jp-nbhygiene-runs-metric';
      select.replaceChildren(...metrics.map(name => new Option(name, name)));
      select.value = this._metric;
      select.addEventListener('change', () => {
        this._metric = select.value;
        this._render(reply);
      });
      this._chartBox.append(
        text('span', '', 'Trend of '),
        select,
        trendChart(reply.runs, this._metric)
      );
    }

    const head = document.createElement('tr');
    for (const column of [
      'Status',
      'Started',
      'Duration',
      'Parameters',
      'Metrics',
      'Output',
      'Run'
    ]) {
      head.appendChild(text('th', '', column));
    }
    const rows: HTMLElement[] = [head];
    for (const pending of reply.pending) {
      const row = document.createElement('tr');
      row.className = `jp-nbhygiene-run jp-nbhygiene-run-${pending.state}`;
      row.append(
        text(
          'td',
          'jp-nbhygiene-run-status',
          pending.state === 'error' ? 'not started' : 'starting'
        ),
        text('td', '', pending.started_at.replace('T', ' ').slice(0, 19)),
        text('td', '', ''),
        text('td', '', pairs(pending.params)),
        text('td', '', pending.error ?? ''),
        text('td', '', ''),
        text('td', '', '')
      );
      rows.push(row);
    }
    for (const run of reply.runs) {
      const row = document.createElement('tr');
      row.className = `jp-nbhygiene-run jp-nbhygiene-run-${run.status}`;
      row.dataset.runId = run.id;
      const status = text('td', 'jp-nbhygiene-run-status', run.status);
      if (run.error?.message) {
        status.title = run.error.message;
      }
      const output = document.createElement('td');
      const view = text('button', 'jp-nbhygiene-run-view', 'View');
      view.title = run.output_notebook ?? 'the output notebook';
      view.addEventListener('click', () => {
        void this._commands.execute('nbhygiene:view-run-output', {
          path: this.path,
          run: run.id
        });
      });
      output.appendChild(view);
      const numbers = Object.fromEntries(
        Object.entries(run.metrics).filter(
          ([, value]) => typeof value !== 'object' || value === null
        )
      ) as Record<string, JSONValue>;
      row.append(
        status,
        text('td', '', run.started_at.replace('T', ' ').slice(0, 19)),
        text(
          'td',
          '',
          run.duration_s === null
            ? ''
            : `${run.duration_s.toFixed(run.duration_s < 10 ? 2 : 1)} s`
        ),
        text('td', 'jp-nbhygiene-run-params', pairs(run.params)),
        text('td', 'jp-nbhygiene-run-metrics', pairs(numbers)),
        output,
        text('td', 'jp-nbhygiene-run-id', run.id)
      );
      rows.push(row);
    }
    this._table.replaceChildren(...rows);
  }

  private _body = new Widget();
  private _status = document.createElement('div');
  private _chartBox = document.createElement('div');
  private _table = document.createElement('table');
  private _metric = '';
  private _timer = 0;
}
