import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { requestAPI } from './request';
import { IRuleDoc } from './types';

/**
 * A rule's documentation (`GET /nbhygiene/rules/<name>`). The doc is Markdown from the rule's
 * docstring; it goes through JupyterLab's Markdown renderer as untrusted, so its HTML is sanitized.
 */
export class RuleDocWidget extends Panel {
  constructor(
    readonly rule: string,
    private readonly _rendermime: IRenderMimeRegistry
  ) {
    super();
    this.addClass('jp-nbhygiene-ruledoc');
    this.id = `nbhygiene-rule-doc-${rule.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.title.label = `Rule: ${rule}`;
    this.title.closable = true;
    this._header.addClass('jp-nbhygiene-ruledoc-header');
    this._header.node.textContent = 'Loading…';
    this.addWidget(this._header);
  }

  async load(): Promise<void> {
    let doc: IRuleDoc;
    try {
      doc = await requestAPI<IRuleDoc>(
        `rules/${encodeURIComponent(this.rule)}`
      );
    } catch (error) {
      this._header.node.textContent = `Cannot load the documentation of ${this.rule}: ${String(error)}`;
      return;
    }
    this.title.label = `${doc.name} (${doc.code})`;
    const heading = document.createElement('h1');
    heading.textContent = `${doc.name} (${doc.code})`;
    const meta = document.createElement('p');
    meta.className = 'jp-nbhygiene-ruledoc-meta';
    meta.textContent = `Default severity: ${doc.severity} · family: ${doc.family}`;
    this._header.node.replaceChildren(heading, meta);
    const renderer = this._rendermime.createRenderer('text/markdown');
    await renderer.renderModel(
      new MimeModel({ data: { 'text/markdown': doc.doc }, trusted: false })
    );
    this.addWidget(renderer);
  }

  private _header = new Widget();
}
