import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import * as nbformat from '@jupyterlab/nbformat';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { NotebookAnalysis, RuleCatalogue } from './analysis';
import {
  clearMarkers,
  ignoreHere,
  revealFinding,
  updateMarkers
} from './cells';
import { extractSelectedCells } from './extract';
import { requestAPI } from './request';
import { RuleDocWidget } from './ruledoc';
import { RunHistoryWidget, RunOutputWidget, runNotebook } from './runs';
import { isShown, SettingsHolder } from './settings';
import { HygieneSidebar } from './sidebar';
import { IFinding } from './types';

const PLUGIN_ID = 'nbhygiene:plugin';

export const CommandIDs = {
  openSidebar: 'nbhygiene:open-sidebar',
  analyse: 'nbhygiene:analyse',
  openRuleDoc: 'nbhygiene:open-rule-doc',
  extractCells: 'nbhygiene:extract-cells',
  runNotebook: 'nbhygiene:run-notebook',
  openRunHistory: 'nbhygiene:open-run-history',
  viewRunOutput: 'nbhygiene:view-run-output'
} as const;

export const hygieneIcon = new LabIcon({
  name: 'nbhygiene:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M12 2 4 5v6c0 5.1 3.4 9.7 8 11 4.6-1.3 8-5.9 8-11V5l-8-3zm-1.2 ' +
    '14.5-3.8-3.8 1.4-1.4 2.4 2.4 5.2-5.2 1.4 1.4-6.6 6.6z"/></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Notebook hygiene findings in a sidebar and in the cell gutter.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings = new SettingsHolder();
    const catalogue = new RuleCatalogue();
    const analyses = new Map<NotebookPanel, NotebookAnalysis>();

    const reveal = (panel: NotebookPanel, finding: IFinding): void => {
      app.shell.activateById(panel.id);
      void revealFinding(panel, finding);
    };

    const sidebar = new HygieneSidebar({
      catalogue,
      settings,
      commands: app.commands,
      reveal,
      ignore: (panel, finding) => {
        if (ignoreHere(panel, finding)) {
          void analyses.get(panel)?.refresh();
        }
      }
    });
    sidebar.title.icon = hygieneIcon;
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    const showMarkers = (analysis: NotebookAnalysis): void => {
      const current = settings.current;
      const entry = analysis.state.entry;
      if (!current.showGutterMarkers || !entry) {
        clearMarkers(analysis.panel);
        return;
      }
      const shown = entry.findings.filter(f =>
        isShown(f, catalogue.familyOf(f.rule), current)
      );
      updateMarkers(analysis.panel, shown, finding => {
        app.shell.activateById(sidebar.id);
        reveal(analysis.panel, finding);
      });
    };

    // The tracker may announce a notebook as current before it announces it as added.
    const analysisFor = (panel: NotebookPanel): NotebookAnalysis => {
      let analysis = analyses.get(panel);
      if (!analysis) {
        const created = new NotebookAnalysis(panel, settings);
        created.changed.connect(() => showMarkers(created));
        panel.disposed.connect(() => analyses.delete(panel));
        analyses.set(panel, created);
        analysis = created;
      }
      return analysis;
    };
    notebooks.widgetAdded.connect((sender, panel) => void analysisFor(panel));
    notebooks.forEach(panel => void analysisFor(panel));
    const follow = (): void => {
      const panel = notebooks.currentWidget;
      sidebar.setAnalysis(panel ? analysisFor(panel) : null);
    };
    notebooks.currentChanged.connect(follow);
    follow();

    settings.changed.connect(() => analyses.forEach(showMarkers));
    void catalogue.load().then(() => {
      sidebar.rerender();
      analyses.forEach(showMarkers);
    });
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => settings.connect(loaded))
        .catch(error => console.warn('nbhygiene: cannot load settings', error));
    }

    const docs = new WidgetTracker<MainAreaWidget<RuleDocWidget>>({
      namespace: 'nbhygiene-rule-doc'
    });
    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Notebook Hygiene',
      caption: 'Open the nbhygiene sidebar for the active notebook',
      icon: hygieneIcon,
      execute: () => {
        app.shell.activateById(sidebar.id);
      }
    });
    app.commands.addCommand(CommandIDs.analyse, {
      label: 'Analyse Notebook Hygiene Now',
      isEnabled: () => notebooks.currentWidget !== null,
      execute: async () => {
        const panel = notebooks.currentWidget;
        if (panel) {
          await analyses.get(panel)?.refresh();
        }
      }
    });
    app.commands.addCommand(CommandIDs.openRuleDoc, {
      label: args =>
        args.rule ? `nbhygiene Rule: ${args.rule as string}` : 'nbhygiene Rule',
      execute: async args => {
        const rule = String(args.rule ?? '');
        const existing = docs.find(widget => widget.content.rule === rule);
        if (existing) {
          app.shell.activateById(existing.id);
          return;
        }
        const content = new RuleDocWidget(rule, rendermime);
        const widget = new MainAreaWidget({ content });
        widget.id = content.id;
        widget.title.icon = hygieneIcon;
        content.title.changed.connect(
          () => (widget.title.label = content.title.label)
        );
        await docs.add(widget);
        app.shell.add(widget, 'main');
        await content.load();
      }
    });
    app.commands.addCommand(CommandIDs.extractCells, {
      label: 'Extract Selected Cells to Module…',
      caption:
        'Move the selected cells into a module function and call it from the notebook',
      isEnabled: () => {
        const panel = notebooks.currentWidget;
        return (
          !!panel &&
          panel.content.widgets.some(cell =>
            panel.content.isSelectedOrActive(cell)
          )
        );
      },
      execute: async () => {
        const panel = notebooks.currentWidget;
        return panel ? await extractSelectedCells(panel) : null;
      }
    });
    const histories = new WidgetTracker<MainAreaWidget<RunHistoryWidget>>({
      namespace: 'nbhygiene-runs'
    });
    const openHistory = async (path: string): Promise<RunHistoryWidget> => {
      const existing = histories.find(widget => widget.content.path === path);
      if (existing) {
        app.shell.activateById(existing.id);
        await existing.content.refresh();
        return existing.content;
      }
      const content = new RunHistoryWidget(path, app.commands);
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = content.title.label;
      widget.title.icon = hygieneIcon;
      await histories.add(widget);
      app.shell.add(widget, 'main', { mode: 'split-bottom' });
      await content.refresh();
      return content;
    };
    app.commands.addCommand(CommandIDs.runNotebook, {
      label: 'Run Notebook as a Versioned Job…',
      caption:
        'Run the saved notebook with parameters in a fresh kernel and record it in the run store',
      isEnabled: () => notebooks.currentWidget !== null,
      execute: async () => {
        const panel = notebooks.currentWidget;
        if (panel && (await runNotebook(panel))) {
          await openHistory(panel.context.localPath);
          return true;
        }
        return false;
      }
    });
    app.commands.addCommand(CommandIDs.openRunHistory, {
      label: 'Show Run History of This Notebook',
      isEnabled: () => notebooks.currentWidget !== null,
      execute: async args => {
        const path =
          (args.path as string) ?? notebooks.currentWidget?.context.localPath;
        if (path) {
          await openHistory(path);
        }
      }
    });
    app.commands.addCommand(CommandIDs.viewRunOutput, {
      label: 'View Run Output',
      execute: async args => {
        const path = String(args.path);
        const run = String(args.run);
        const reply = await requestAPI<{
          path: string | null;
          notebook: nbformat.INotebookContent;
        }>(
          `runs/${encodeURIComponent(run)}/output?path=${encodeURIComponent(path)}`
        );
        const content = new RunOutputWidget(reply.notebook, run);
        const widget = new MainAreaWidget({ content });
        widget.id = content.id;
        widget.title.label = content.title.label;
        widget.title.caption = reply.path ?? run;
        app.shell.add(widget, 'main');
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.extractCells,
      selector: '.jp-Notebook .jp-Cell',
      rank: 20
    });
    if (palette) {
      const category = 'Notebook Hygiene';
      palette.addItem({ command: CommandIDs.openSidebar, category });
      palette.addItem({ command: CommandIDs.analyse, category });
      palette.addItem({ command: CommandIDs.extractCells, category });
      palette.addItem({ command: CommandIDs.runNotebook, category });
      palette.addItem({ command: CommandIDs.openRunHistory, category });
    }
  }
};

export default plugin;
