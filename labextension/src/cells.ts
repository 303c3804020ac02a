import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';

import { IFinding, Severity } from './types';

export const IGNORE_TAG_PREFIX = 'nbhygiene-ignore:';

/** The index of the finding's cell now: by cell id, falling back to the index the server saw. */
export function cellIndexOf(notebook: Notebook, finding: IFinding): number {
  if (finding.cell_index === null) {
    return -1;
  }
  if (finding.cell_id) {
    const byId = notebook.widgets.findIndex(
      cell => cell.model.id === finding.cell_id
    );
    if (byId >= 0) {
      return byId;
    }
  }
  return finding.cell_index < notebook.widgets.length ? finding.cell_index : -1;
}

/**
 * Select the finding's cell, scroll it into view and put the cursor on the finding's line.
 * A cell off screen may not be rendered yet (windowing): deselect, set the active index, scroll, then
 * wait for the cell before touching its editor.
 */
export async function revealFinding(
  panel: NotebookPanel,
  finding: IFinding
): Promise<boolean> {
  const notebook = panel.content;
  const index = cellIndexOf(notebook, finding);
  if (index < 0) {
    return false;
  }
  await panel.revealed;
  notebook.mode = 'command';
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'smart');
  const cell = notebook.widgets[index];
  await cell.ready;
  // While a freshly opened notebook is still laying out, the windowed list can lose the scroll.
  await new Promise(resolve => requestAnimationFrame(resolve));
  if (!isInView(cell.node, notebook.node)) {
    cell.node.scrollIntoView({ block: 'center' });
  }
  if (finding.line !== null && cell.model.type === 'code' && cell.editor) {
    const lines = cell.model.sharedModel.getSource().split('\n');
    const line = Math.min(
      Math.max(finding.line - 1, 0),
      Math.max(lines.length - 1, 0)
    );
    const column = Math.min(
      Math.max((finding.column ?? 1) - 1, 0),
      lines[line]?.length ?? 0
    );
    cell.editor.setCursorPosition({ line, column });
    cell.editor.revealPosition({ line, column });
  }
  notebook.activate();
  return true;
}

function isInView(node: HTMLElement, viewport: HTMLElement): boolean {
  const box = node.getBoundingClientRect();
  const view = viewport.getBoundingClientRect();
  return box.bottom > view.top && box.top < view.bottom;
}

/**
 * Suppress the finding where it is: the cell tag `nbhygiene-ignore:<rule>`, or for a notebook-level
 * finding the notebook metadata `nbhygiene.ignore`. The change goes through the document model, so
 * it can be undone and is saved with the notebook.
 */
export function ignoreHere(panel: NotebookPanel, finding: IFinding): boolean {
  const model = panel.content.model;
  if (!model) {
    return false;
  }
  if (finding.cell_index === null) {
    const current = model.getMetadata('nbhygiene');
    const meta =
      current && typeof current === 'object' && !Array.isArray(current)
        ? { ...(current as Record<string, unknown>) }
        : {};
    const ignore = Array.isArray(meta.ignore)
      ? meta.ignore.map(String)
      : typeof meta.ignore === 'string'
        ? [meta.ignore]
        : [];
    if (!ignore.includes(finding.rule)) {
      meta.ignore = [...ignore, finding.rule];
      model.setMetadata('nbhygiene', meta);
    }
    return true;
  }
  const index = cellIndexOf(panel.content, finding);
  if (index < 0) {
    return false;
  }
  const cell = panel.content.widgets[index];
  const tags = cell.model.getMetadata('tags');
  const current = Array.isArray(tags) ? tags.map(String) : [];
  const tag = `${IGNORE_TAG_PREFIX}${finding.rule}`;
  if (!current.includes(tag)) {
    cell.model.setMetadata('tags', [...current, tag]);
  }
  return true;
}

const MARKER_CLASS = 'jp-nbhygiene-marker';
const FLAGGED_CLASS = 'jp-nbhygiene-flagged';
const RANK: Record<Severity, number> = { error: 2, warning: 1, info: 0 };

function describe(finding: IFinding): string {
  const where = finding.line !== null ? `line ${finding.line}: ` : '';
  return `${finding.severity} ${finding.code} ${finding.rule} — ${where}${finding.message}`;
}

/**
 * Mark each flagged cell in its gutter: a dot coloured by the worst severity, with every message
 * on hover (a `title`: plain text). Previous markers are removed first.
 */
export function updateMarkers(
  panel: NotebookPanel,
  findings: IFinding[],
  onClick: (finding: IFinding) => void
): void {
  const notebook = panel.content;
  const byCell = new Map<Cell, IFinding[]>();
  for (const finding of findings) {
    const index = cellIndexOf(notebook, finding);
    if (index >= 0) {
      const cell = notebook.widgets[index];
      byCell.set(cell, [...(byCell.get(cell) ?? []), finding]);
    }
  }
  for (const cell of notebook.widgets) {
    cell.node
      .querySelectorAll(`:scope > .${MARKER_CLASS}`)
      .forEach(node => node.remove());
    cell.removeClass(FLAGGED_CLASS);
    const flagged = byCell.get(cell);
    if (!flagged) {
      continue;
    }
    flagged.sort(
      (a, b) =>
        RANK[b.severity] - RANK[a.severity] || (a.line ?? 0) - (b.line ?? 0)
    );
    const worst = flagged[0].severity;
    const marker = document.createElement('div');
    marker.className = `${MARKER_CLASS} jp-nbhygiene-severity-${worst}`;
    marker.dataset.severity = worst;
    marker.dataset.count = String(flagged.length);
    marker.title = flagged.map(describe).join('\n');
    marker.textContent = flagged.length > 1 ? String(flagged.length) : '';
    marker.setAttribute('role', 'button');
    marker.setAttribute(
      'aria-label',
      `${flagged.length} nbhygiene finding(s): ${marker.title}`
    );
    marker.addEventListener('click', event => {
      event.stopPropagation();
      onClick(flagged[0]);
    });
    cell.node.appendChild(marker);
    cell.addClass(FLAGGED_CLASS);
  }
}

export function clearMarkers(panel: NotebookPanel): void {
  updateMarkers(panel, [], () => undefined);
}
