import { NotebookPanel } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { IAnalysisState, NotebookAnalysis, RuleCatalogue } from './analysis';
import { isShown, SettingsHolder } from './settings';
import { FAMILIES, IFinding, Severity, SEVERITIES } from './types';

export const SIDEBAR_ID = 'nbhygiene-sidebar';
const RANK: Record<Severity, number> = { error: 2, warning: 1, info: 0 };

export interface ISidebarOptions {
  catalogue: RuleCatalogue;
  settings: SettingsHolder;
  commands: CommandRegistry;
  /** Select the finding's cell (and its line). */
  reveal: (panel: NotebookPanel, finding: IFinding) => void;
  /** Suppress the finding where it is, then re-analyse. */
  ignore: (panel: NotebookPanel, finding: IFinding) => void;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text; // notebook content is always text, never HTML
  }
  return node;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function location(finding: IFinding): string {
  if (finding.cell_position === null) {
    return 'Notebook';
  }
  const line = finding.line !== null ? `, line ${finding.line}` : '';
  return `Cell ${finding.cell_position}${line}`;
}

/**
 * The hygiene sidebar for the active notebook: findings grouped by family, with counts, filters by
 * severity and rule, and per finding its rule (linked to the rule's doc), message and cell.
 */
export class HygieneSidebar extends Widget {
  constructor(private readonly _options: ISidebarOptions) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-nbhygiene-sidebar');
    this.title.caption = 'Notebook hygiene';

    const header = element('div', 'jp-nbhygiene-header');
    header.appendChild(element('h2', 'jp-nbhygiene-title', 'Notebook hygiene'));
    this._refreshButton = element(
      'button',
      'jp-nbhygiene-refresh jp-mod-styled',
      'Analyse'
    );
    this._refreshButton.title = 'Analyse the notebook now';
    this._refreshButton.addEventListener(
      'click',
      () => void this._analysis?.refresh()
    );
    header.appendChild(this._refreshButton);
    this.node.appendChild(header);

    this._notebookLabel = element('div', 'jp-nbhygiene-notebook');
    this._status = element('div', 'jp-nbhygiene-status');
    this._status.setAttribute('aria-live', 'polite');
    this.node.append(this._notebookLabel, this._status);

    this._filters = element('div', 'jp-nbhygiene-filters');
    this._severityChips = element('div', 'jp-nbhygiene-severity-filter');
    this._severityChips.setAttribute('role', 'group');
    this._severityChips.setAttribute('aria-label', 'Show severities');
    this._ruleSelect = element(
      'select',
      'jp-nbhygiene-rule-filter jp-mod-styled'
    );
    this._ruleSelect.title = 'Show one rule';
    this._ruleSelect.addEventListener('change', () => {
      this._ruleFilter = this._ruleSelect.value;
      this._render();
    });
    this._filters.append(this._severityChips, this._ruleSelect);
    this.node.appendChild(this._filters);

    this._banner = element('div', 'jp-nbhygiene-banner');
    this._list = element('div', 'jp-nbhygiene-groups');
    this.node.append(this._banner, this._list);

    _options.settings.changed.connect(() => this._render());
    this._render();
  }

  /** Follow this notebook (null: no notebook is active). */
  setAnalysis(analysis: NotebookAnalysis | null): void {
    if (analysis === this._analysis) {
      return;
    }
    this._analysis?.changed.disconnect(this._onChanged, this);
    this._analysis = analysis;
    analysis?.changed.connect(this._onChanged, this);
    this._render();
  }

  /** Re-render (the rule catalogue arrived, say). */
  rerender(): void {
    this._render();
  }

  private _onChanged(sender: NotebookAnalysis, state: IAnalysisState): void {
    this._render();
  }

  private _render(): void {
    const analysis = this._analysis;
    const state = analysis?.state;
    this._notebookLabel.textContent = analysis
      ? analysis.panel.context.localPath
      : '';
    this._refreshButton.disabled = !analysis;
    this.node.dataset.busy = state?.busy ? 'true' : 'false';
    this._banner.hidden = true;
    if (state?.error) {
      this._showBanner(
        `Analysis failed (${state.error.code}): ${state.error.message}`
      );
    } else if (state?.entry?.error) {
      this._showBanner(
        `Cannot analyse this notebook (${state.entry.error.kind}): ${state.entry.error.message}`
      );
    }
    const entry = state?.entry ?? null;
    if (!analysis || !entry) {
      this._status.textContent = !analysis
        ? 'Open a notebook to see its hygiene findings.'
        : state?.busy
          ? 'Analysing…'
          : '';
      this._renderList(null, [], []);
      return;
    }
    const settings = this._options.settings.current;
    const catalogue = this._options.catalogue;
    const allowed = entry.findings.filter(f =>
      isShown(f, catalogue.familyOf(f.rule), settings)
    );
    const shown = allowed.filter(
      f =>
        !this._hiddenSeverities.has(f.severity) &&
        (!this._ruleFilter || f.rule === this._ruleFilter)
    );
    const hidden = entry.findings.length - shown.length;
    const counts = SEVERITIES.map(
      s => [s, shown.filter(f => f.severity === s).length] as const
    )
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`);
    this._status.textContent =
      (shown.length
        ? `${plural(shown.length, 'finding')} (${counts.join(', ')})`
        : 'No findings') +
      (hidden ? ` · ${hidden} hidden by filters` : '') +
      (state?.busy ? ' · analysing…' : '');
    this.node.dataset.findings = String(shown.length);
    this._renderList(analysis.panel, allowed, shown);
  }

  /**
   * Rebuild the filters and the list, but only when what they show changed: a row replaced under
   * the pointer between mouse down and up would swallow the user's click.
   */
  private _renderList(
    panel: NotebookPanel | null,
    allowed: IFinding[],
    shown: IFinding[]
  ): void {
    const key = JSON.stringify([
      panel?.id ?? null,
      allowed,
      shown,
      this._ruleFilter,
      [...this._hiddenSeverities],
      this._options.settings.current.severities,
      this._options.catalogue.size
    ]);
    if (key === this._renderedKey) {
      return;
    }
    this._renderedKey = key;
    this._renderFilters(allowed);
    this._list.replaceChildren();
    if (!panel) {
      return;
    }
    const catalogue = this._options.catalogue;
    for (const [family, label] of FAMILIES) {
      const members = shown
        .filter(f => {
          const known = catalogue.familyOf(f.rule);
          return (
            known === family ||
            (family === 'other' && !FAMILIES.some(([id]) => id === known))
          );
        })
        .sort(
          (a, b) =>
            RANK[b.severity] - RANK[a.severity] ||
            (a.cell_position ?? 0) - (b.cell_position ?? 0) ||
            (a.line ?? 0) - (b.line ?? 0)
        );
      if (members.length) {
        this._list.appendChild(
          this._renderGroup(panel, family, label, members)
        );
      }
    }
  }

  private _showBanner(text: string): void {
    this._banner.textContent = text; // messages may quote the notebook: text only
    this._banner.hidden = false;
  }

  private _renderFilters(findings: IFinding[]): void {
    const settings = this._options.settings.current;
    this._severityChips.replaceChildren();
    for (const severity of SEVERITIES.filter(s =>
      settings.severities.includes(s)
    )) {
      const count = findings.filter(f => f.severity === severity).length;
      const chip = element(
        'button',
        `jp-nbhygiene-chip jp-nbhygiene-severity-${severity}`,
        `${severity} ${count}`
      );
      const active = !this._hiddenSeverities.has(severity);
      chip.setAttribute('aria-pressed', String(active));
      chip.dataset.severity = severity;
      chip.title = `${active ? 'Hide' : 'Show'} ${severity} findings`;
      chip.addEventListener('click', () => {
        if (this._hiddenSeverities.has(severity)) {
          this._hiddenSeverities.delete(severity);
        } else {
          this._hiddenSeverities.add(severity);
        }
        this._render();
      });
      this._severityChips.appendChild(chip);
    }
    const rules = new Map<string, number>();
    for (const finding of findings) {
      rules.set(finding.rule, (rules.get(finding.rule) ?? 0) + 1);
    }
    if (this._ruleFilter && !rules.has(this._ruleFilter)) {
      rules.set(this._ruleFilter, 0);
    }
    const options = [new Option(`All rules (${findings.length})`, '')];
    for (const [rule, count] of [...rules].sort(([a], [b]) =>
      a.localeCompare(b)
    )) {
      options.push(new Option(`${rule} (${count})`, rule)); // Option() sets text, not HTML
    }
    this._ruleSelect.replaceChildren(...options);
    this._ruleSelect.value = this._ruleFilter;
  }

  private _renderGroup(
    panel: NotebookPanel,
    family: string,
    label: string,
    findings: IFinding[]
  ): HTMLElement {
    const section = element('section', 'jp-nbhygiene-group');
    section.dataset.family = family;
    const heading = element('h3', 'jp-nbhygiene-group-title');
    heading.appendChild(element('span', 'jp-nbhygiene-group-label', label));
    heading.appendChild(
      element('span', 'jp-nbhygiene-count', String(findings.length))
    );
    for (const severity of SEVERITIES) {
      const count = findings.filter(f => f.severity === severity).length;
      if (count) {
        const badge = element(
          'span',
          `jp-nbhygiene-badge jp-nbhygiene-severity-${severity}`,
          String(count)
        );
        badge.title = `${count} ${severity}`;
        heading.appendChild(badge);
      }
    }
    section.appendChild(heading);
    const list = element('ul', 'jp-nbhygiene-findings');
    for (const finding of findings) {
      list.appendChild(this._renderFinding(panel, finding));
    }
    section.appendChild(list);
    return section;
  }

  private _renderFinding(panel: NotebookPanel, finding: IFinding): HTMLElement {
    const item = element(
      'li',
      `jp-nbhygiene-finding jp-nbhygiene-severity-${finding.severity}`
    );
    item.dataset.rule = finding.rule;
    item.dataset.code = finding.code;
    item.dataset.severity = finding.severity;
    if (finding.cell_id) {
      item.dataset.cellId = finding.cell_id;
    }
    if (finding.cell_position !== null) {
      item.dataset.cellPosition = String(finding.cell_position);
    }

    // The whole row selects the cell; the action links do their own thing.
    item.tabIndex = 0;
    item.setAttribute('role', 'button');
    item.title = 'Go to the cell';
    const go = (): void => this._options.reveal(panel, finding);
    item.addEventListener('click', go);
    item.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        go();
      }
    });
    const top = element('div', 'jp-nbhygiene-finding-top');
    top.appendChild(element('span', 'jp-nbhygiene-severity-dot'));
    top.appendChild(element('span', 'jp-nbhygiene-rule', finding.rule));
    top.appendChild(element('span', 'jp-nbhygiene-code', finding.code));
    item.appendChild(top);
    item.appendChild(element('div', 'jp-nbhygiene-message', finding.message));

    const bottom = element('div', 'jp-nbhygiene-finding-bottom');
    bottom.appendChild(
      element('span', 'jp-nbhygiene-where', location(finding))
    );
    const doc = element('button', 'jp-nbhygiene-doc', 'Rule doc');
    doc.title =
      this._options.catalogue.get(finding.rule)?.summary ??
      `About ${finding.rule}`;
    doc.addEventListener('click', event => {
      event.stopPropagation();
      void this._options.commands.execute('nbhygiene:open-rule-doc', {
        rule: finding.rule
      });
    });
    const ignore = element('button', 'jp-nbhygiene-ignore', 'Ignore here');
    ignore.title =
      finding.cell_position === null
        ? `Add "${finding.rule}" to the notebook metadata nbhygiene.ignore`
        : `Tag the cell nbhygiene-ignore:${finding.rule}`;
    ignore.addEventListener('click', event => {
      event.stopPropagation();
      this._options.ignore(panel, finding);
    });
    bottom.append(doc, ignore);
    item.appendChild(bottom);
    return item;
  }

  private _analysis: NotebookAnalysis | null = null;
  private _renderedKey = '';
  private _hiddenSeverities = new Set<Severity>();
  private _ruleFilter = '';
  private _refreshButton: HTMLButtonElement;
  private _notebookLabel: HTMLElement;
  private _status: HTMLElement;
  private _filters: HTMLElement;
  private _severityChips: HTMLElement;
  private _ruleSelect: HTMLSelectElement;
  private _banner: HTMLElement;
  private _list: HTMLElement;
}
