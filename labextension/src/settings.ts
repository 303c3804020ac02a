import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { IFinding, Severity, SEVERITIES } from './types';

/** The user's settings (schema/plugin.json), with their defaults. */
export interface IHygieneSettings {
  /** Rule names, codes, code prefixes (`NBH0`) or families whose findings are not shown. */
  ignoredRules: string[];
  /** Severities shown in the sidebar and the gutter. */
  severities: Severity[];
  /** Analyse the notebook's unsaved content while it is edited (debounced), not only on save. */
  analyseOnEdit: boolean;
  debounceMs: number;
  showGutterMarkers: boolean;
}

export const DEFAULT_SETTINGS: IHygieneSettings = {
  ignoredRules: [],
  severities: [...SEVERITIES],
  analyseOnEdit: true,
  debounceMs: 600,
  showGutterMarkers: true
};

/** The current settings; follows the settings registry when there is one. */
export class SettingsHolder {
  readonly changed = new Signal<this, IHygieneSettings>(this);
  private _current: IHygieneSettings = { ...DEFAULT_SETTINGS };

  get current(): IHygieneSettings {
    return this._current;
  }

  connect(settings: ISettingRegistry.ISettings): void {
    const update = (): void => {
      const composite = settings.composite as Partial<IHygieneSettings>;
      this._current = { ...DEFAULT_SETTINGS, ...composite };
      this.changed.emit(this._current);
    };
    settings.changed.connect(update);
    update();
  }
}

/**
 * Whether `selector` names this finding's rule: the selectors of `[tool.nbhygiene] ignore` (a rule
 * name, a family, `ALL`, or a code or code prefix such as `NBH0`).
 */
export function ruleMatches(
  finding: IFinding,
  family: string,
  selector: string
): boolean {
  const value = selector.trim();
  if (!value) {
    return false;
  }
  const upper = value.toUpperCase();
  if (upper === 'ALL') {
    return true;
  }
  const lower = value.toLowerCase();
  if (lower === finding.rule || lower === family) {
    return true;
  }
  return (
    upper.startsWith('NBH') && finding.code.toUpperCase().startsWith(upper)
  );
}

export function isShown(
  finding: IFinding,
  family: string,
  settings: IHygieneSettings
): boolean {
  return (
    settings.severities.includes(finding.severity) &&
    !settings.ignoredRules.some(selector =>
      ruleMatches(finding, family, selector)
    )
  );
}
