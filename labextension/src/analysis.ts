import { DocumentRegistry } from '@jupyterlab/docregistry';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { NbhygieneError, postAPI, requestAPI } from './request';
import { SettingsHolder } from './settings';
import { IFileEntry, IRuleInfo } from './types';

/** The rule catalogue (`GET /nbhygiene/rules`), fetched once: it maps rules to their families. */
export class RuleCatalogue {
  private _rules = new Map<string, IRuleInfo>();
  private _loading: Promise<void> | null = null;

  load(): Promise<void> {
    if (!this._loading) {
      this._loading = requestAPI<{ rules: IRuleInfo[] }>('rules').then(
        reply => {
          for (const rule of reply.rules) {
            this._rules.set(rule.name, rule);
          }
        },
        error => {
          this._loading = null; // try again next time
          console.warn('nbhygiene: cannot load the rule catalogue', error);
        }
      );
    }
    return this._loading;
  }

  get size(): number {
    return this._rules.size;
  }

  get(name: string): IRuleInfo | undefined {
    return this._rules.get(name);
  }

  familyOf(name: string): string {
    return this._rules.get(name)?.family ?? 'other';
  }
}

/** What the sidebar shows for a notebook. */
export interface IAnalysisState {
  /** The newest answer (null before the first one). */
  entry: IFileEntry | null;
  /** The newest request failed (the previous entry, if any, is kept). */
  error: NbhygieneError | null;
  /** A request is in flight. */
  busy: boolean;
}

/**
 * Keeps one notebook's findings up to date: analyses its current content (unsaved edits included)
 * when it opens, when it is saved or reloaded, and, debounced, while it is edited. Several events
 * often fire at once; only the newest request's answer is kept.
 */
export class NotebookAnalysis implements IDisposable {
  constructor(
    readonly panel: NotebookPanel,
    private readonly _settings: SettingsHolder
  ) {
    const context = panel.context;
    void context.ready.then(() => {
      if (this.isDisposed) {
        return;
      }
      context.model.contentChanged.connect(this._onContentChanged, this);
      context.saveState.connect(this._onSaveState, this);
      context.fileChanged.connect(this._onFileChanged, this);
      context.pathChanged.connect(this._onFileChanged, this);
      void this.refresh();
    });
    panel.disposed.connect(() => this.dispose());
  }

  get changed(): ISignal<this, IAnalysisState> {
    return this._changed;
  }

  get state(): IAnalysisState {
    return { entry: this._entry, error: this._error, busy: this._pending > 0 };
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Analyse the notebook's current content now. */
  async refresh(): Promise<void> {
    this._cancelTimer();
    const context = this.panel.context;
    if (this._disposed || !context.isReady) {
      return;
    }
    const generation = ++this._generation;
    this._pending++;
    this._changed.emit(this.state);
    try {
      const entry = await postAPI<IFileEntry>('check', {
        path: context.localPath,
        notebook: context.model.toJSON()
      });
      if (generation === this._generation) {
        this._entry = entry;
        this._error = null;
      }
    } catch (error) {
      if (generation === this._generation) {
        this._error =
          error instanceof NbhygieneError
            ? error
            : new NbhygieneError('client-error', String(error), 0);
      }
    } finally {
      this._pending--;
    }
    if (!this._disposed && generation === this._generation) {
      this._changed.emit(this.state);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._cancelTimer();
    Signal.clearData(this);
  }

  private _onContentChanged(): void {
    if (!this._settings.current.analyseOnEdit) {
      return;
    }
    this._cancelTimer();
    this._timer = window.setTimeout(() => {
      this._timer = 0;
      void this.refresh();
    }, this._settings.current.debounceMs);
  }

  private _onSaveState(
    sender: DocumentRegistry.IContext<DocumentRegistry.IModel>,
    state: DocumentRegistry.SaveState
  ): void {
    if (state === 'completed') {
      void this.refresh();
    }
  }

  private _onFileChanged(): void {
    void this.refresh();
  }

  private _cancelTimer(): void {
    if (this._timer) {
      window.clearTimeout(this._timer);
      this._timer = 0;
    }
  }

  private _changed = new Signal<this, IAnalysisState>(this);
  private _entry: IFileEntry | null = null;
  private _error: NbhygieneError | null = null;
  private _generation = 0;
  private _pending = 0;
  private _timer = 0;
  private _disposed = false;
}
