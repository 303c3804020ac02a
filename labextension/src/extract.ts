import { Dialog, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import * as nbformat from '@jupyterlab/nbformat';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { NbhygieneError, postAPI } from './request';
import { saveBeforeUsingFile } from './saving';

/** `POST /nbhygiene/extract`: the CLI's JSON document, plus what the dialog shows. */
export interface IExtractReply {
  status: 'verified' | 'unverified' | 'refused' | 'failed';
  function: string | null;
  params: string[];
  returns: string[];
  module: string;
  notebook: string;
  reason: string | null;
  differences: string[];
  signature: string | null;
  refusal: {
    message: string;
    position: number | null;
    line: number | null;
  } | null;
  notes: string[];
  compared_cells: number;
  compared_values: number;
  written: string[];
  notebook_content: nbformat.INotebookContent | null;
}

interface IExtractForm {
  module: string;
  function: string;
  verify: boolean;
}

function text<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  content: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = content; // names and messages come from the notebook: text only
  return node;
}

/** The selected cells as an extract SPEC: their ids (`id:...`), or 1-based positions. */
export function selectionSpec(panel: NotebookPanel): string {
  const notebook = panel.content;
  const chosen = notebook.widgets
    .map((cell, index) => ({ cell, index }))
    .filter(({ cell }) => notebook.isSelectedOrActive(cell));
  if (chosen.every(({ cell }) => cell.model.id)) {
    return chosen.map(({ cell }) => `id:${cell.model.id}`).join(',');
  }
  return chosen.map(({ index }) => String(index + 1)).join(',');
}

/**
 * The dialog's form: module path (relative to the notebook), function name, verification. It asks
 * the server for a preview (no kernels, nothing written) whenever a field changes, and shows the
 * inferred signature or the reason for a refusal.
 */
class ExtractForm extends Widget implements Dialog.IBodyWidget<IExtractForm> {
  constructor(
    private readonly _path: string,
    private readonly _cells: string,
    cellCount: number
  ) {
    super();
    this.addClass('jp-nbhygiene-extract-form');
    const stem = PathExt.basename(_path, PathExt.extname(_path)).replace(
      /\W+/g,
      '_'
    );
    this._module.value = `${stem.replace(/^(\d)/, '_$1').toLowerCase()}_steps.py`;
    this._module.className = 'jp-mod-styled jp-nbhygiene-extract-module';
    this._function.className = 'jp-mod-styled jp-nbhygiene-extract-function';
    this._function.placeholder = 'default: from the cell id';
    this._verify.type = 'checkbox';
    this._verify.checked = true;
    this._verify.className = 'jp-nbhygiene-extract-verify';
    const label = (caption: string, input: HTMLElement): HTMLLabelElement => {
      const node = text('label', 'jp-nbhygiene-extract-field', caption);
      node.appendChild(input);
      return node;
    };
    this.node.append(
      text(
        'p',
        'jp-nbhygiene-extract-cells',
        `${cellCount} selected cell(s) move into a function; the notebook is rewritten to call it.`
      ),
      label('Module (relative to the notebook)', this._module),
      label('Function name', this._function),
      label(
        'Verify by re-running the notebook in fresh kernels (slower)',
        this._verify
      ),
      this._preview
    );
    this._preview.className = 'jp-nbhygiene-extract-preview';
    for (const input of [this._module, this._function]) {
      input.addEventListener('input', () => this._schedulePreview());
    }
    this._schedulePreview(0);
  }

  getValue(): IExtractForm {
    return {
      module: this._module.value.trim(),
      function: this._function.value.trim(),
      verify: this._verify.checked
    };
  }

  private _schedulePreview(delay = 400): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._updatePreview(), delay);
  }

  private async _updatePreview(): Promise<void> {
    const form = this.getValue();
    const generation = ++this._generation;
    this._preview.replaceChildren(text('span', '', 'Planning…'));
    let nodes: HTMLElement[];
    try {
      const reply = await requestExtraction(
        this._path,
        this._cells,
        form,
        true
      );
      if (reply.status === 'refused' || reply.status === 'failed') {
        nodes = [
          text(
            'div',
            'jp-nbhygiene-extract-refused',
            `Refused: ${reply.reason ?? ''}`
          )
        ];
      } else {
        nodes = [
          text('div', 'jp-nbhygiene-extract-label', 'Inferred signature'),
          text(
            'code',
            'jp-nbhygiene-extract-signature',
            `def ${reply.signature ?? ''}`
          ),
          ...reply.notes.map(note =>
            text('div', 'jp-nbhygiene-extract-note', note)
          )
        ];
      }
    } catch (error) {
      nodes = [
        text('div', 'jp-nbhygiene-extract-refused', errorMessage(error))
      ];
    }
    if (generation === this._generation) {
      this._preview.replaceChildren(...nodes);
    }
  }

  private _module = document.createElement('input');
  private _function = document.createElement('input');
  private _verify = document.createElement('input');
  private _preview = document.createElement('div');
  private _timer = 0;
  private _generation = 0;
}

function errorMessage(error: unknown): string {
  return error instanceof NbhygieneError
    ? `${error.message} (${error.code})`
    : String(error);
}

function requestExtraction(
  path: string,
  cells: string,
  form: IExtractForm,
  preview: boolean
): Promise<IExtractReply> {
  return postAPI<IExtractReply>('extract', {
    path,
    cells,
    module: PathExt.join(PathExt.dirname(path), form.module),
    function: form.function || null,
    verify: form.verify,
    preview
  });
}

type CellJSON = nbformat.ICell;

function joined(value: unknown): unknown {
  return Array.isArray(value) && value.every(v => typeof v === 'string')
    ? value.join('')
    : value;
}

/**
 * What identifies a cell's content for the diff: id, type, source and metadata. The model adds
 * `trusted` and `attachments: null`, and spells outputs differently, so those are left out; every
 * rewrite changes the source of the cells it touches.
 */
function canonical(cell: CellJSON): string {
  const metadata = Object.entries(
    (cell.metadata ?? {}) as Record<string, unknown>
  )
    .filter(([key]) => key !== 'trusted')
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([
    cell.id ?? null,
    cell.cell_type,
    joined(cell.source),
    metadata
  ]);
}

/**
 * Apply the rewritten notebook through the document model, in one undoable transaction: only the
 * run of cells that differs is replaced (the common head and tail stay, with their widgets).
 */
export function applyNotebook(
  panel: NotebookPanel,
  content: nbformat.INotebookContent
): number {
  const shared = panel.content.model!.sharedModel;
  const before = shared.cells.map(cell => canonical(cell.toJSON() as CellJSON));
  const after = content.cells.map(cell => canonical(cell));
  let head = 0;
  while (
    head < before.length &&
    head < after.length &&
    before[head] === after[head]
  ) {
    head++;
  }
  let tail = 0;
  while (
    tail < before.length - head &&
    tail < after.length - head &&
    before[before.length - 1 - tail] === after[after.length - 1 - tail]
  ) {
    tail++;
  }
  const inserted = content.cells
    .slice(head, content.cells.length - tail)
    .map(cell => ({
      ...cell,
      source: joined(cell.source) as string
    }));
  shared.transact(() => {
    shared.deleteCellRange(head, before.length - tail);
    shared.insertCells(head, inserted);
    for (const [key, value] of Object.entries(content.metadata ?? {})) {
      if (
        value !== undefined &&
        JSON.stringify(shared.getMetadata(key)) !== JSON.stringify(value)
      ) {
        shared.setMetadata(key, value);
      }
    }
  });
  return head;
}

function resultBody(reply: IExtractReply, extra: string[]): Widget {
  const body = new Widget();
  body.addClass('jp-nbhygiene-extract-result');
  const lines: HTMLElement[] = [];
  if (reply.status === 'verified' || reply.status === 'unverified') {
    lines.push(
      text(
        'code',
        'jp-nbhygiene-extract-signature',
        `def ${reply.signature ?? ''}`
      ),
      text('p', '', `Module: ${reply.module}`),
      text(
        'p',
        `jp-nbhygiene-extract-status jp-nbhygiene-extract-${reply.status}`,
        reply.status === 'verified'
          ? `Verified: the original and the rewritten notebook gave the same results (${reply.compared_cells} cells, ${reply.compared_values} values compared).`
          : 'Not verified (verification was off).'
      )
    );
  } else {
    lines.push(
      text(
        'p',
        `jp-nbhygiene-extract-status jp-nbhygiene-extract-${reply.status}`,
        `${reply.status === 'refused' ? 'Refused' : 'Verification failed'}: ${reply.reason ?? ''}`
      ),
      ...reply.differences
        .slice(0, 5)
        .map(difference =>
          text('pre', 'jp-nbhygiene-extract-difference', difference)
        ),
      text('p', '', 'Nothing was written.')
    );
  }
  lines.push(
    ...[...reply.notes, ...extra].map(note =>
      text('p', 'jp-nbhygiene-extract-note', note)
    )
  );
  body.node.append(...lines);
  return body;
}

/**
 * "Extract selected cells to module...": save if needed (the server reads the saved notebook), ask
 * for module and function with a live preview of the signature, run the extraction (verified by
 * re-execution unless turned off) behind a modal progress dialog, write the module on the server, and
 * apply the rewritten notebook through the document model. Returns the reply, or null if cancelled.
 */
export async function extractSelectedCells(
  panel: NotebookPanel
): Promise<IExtractReply | null> {
  const context = panel.context;
  const model = context.model;
  const saved = await saveBeforeUsingFile(
    context,
    'Save Before Extracting?',
    'Extraction works on the saved notebook. Save your changes first?'
  );
  if (!saved) {
    return null;
  }
  const cells = selectionSpec(panel);
  const count = cells.split(',').length;
  const form = new ExtractForm(context.localPath, cells, count);
  const answer = await showDialog({
    title: 'Extract Cells to Module',
    body: form,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Extract' })]
  });
  if (!answer.button.accept || !answer.value) {
    return null;
  }
  const values = answer.value;
  const snapshot = JSON.stringify(model.toJSON());
  const progress = new Dialog({
    title: 'Extracting…',
    body: values.verify
      ? 'Running the original and the rewritten notebook in fresh kernels to prove nothing changed.'
      : 'Rewriting the notebook and the module.',
    buttons: []
  });
  progress.addClass('jp-nbhygiene-extract-progress');
  void progress.launch();
  let reply: IExtractReply;
  try {
    reply = await requestExtraction(context.localPath, cells, values, false);
  } catch (error) {
    progress.dispose();
    await showDialog({
      title: 'Extraction Failed',
      body: errorMessage(error),
      buttons: [Dialog.okButton()]
    });
    return null;
  }
  progress.dispose();
  const extra: string[] = [];
  let changed = -1;
  if (reply.notebook_content) {
    if (JSON.stringify(model.toJSON()) === snapshot) {
      changed = applyNotebook(panel, reply.notebook_content);
      extra.push(
        'The notebook now calls the function: review it, then save (Undo reverts it).'
      );
    } else {
      extra.push(
        'The notebook changed while extracting, so it was not rewritten; the module was. Run the extraction again.'
      );
    }
  }
  await showDialog({
    title:
      reply.status === 'verified' || reply.status === 'unverified'
        ? 'Cells Extracted'
        : 'Not Extracted',
    body: resultBody(reply, extra),
    buttons: [Dialog.okButton()]
  });
  if (changed >= 0) {
    // Closing the dialog hands the focus back to the notebook, which selects the focused cell: select
    // the first changed cell (the call) only now.
    const notebook = panel.content;
    notebook.deselectAll();
    notebook.activeCellIndex = Math.min(changed, notebook.widgets.length - 1);
    await notebook.scrollToItem(notebook.activeCellIndex, 'smart');
    notebook.activate();
  }
  return reply;
}
