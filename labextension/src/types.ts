/**
 * The records the server sends. They mirror nbhygiene's Python `Finding.to_json()` and
 * `FileResult.to_json()` (the CLI's JSON format): the sidebar renders the same records as every other
 * front end and invents none of its own.
 */

export type Severity = 'error' | 'warning' | 'info';

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

export interface IFix {
  description: string;
  safe: boolean;
  data: Record<string, unknown>;
}

export interface IFinding {
  code: string;
  rule: string;
  severity: Severity;
  message: string;
  /** 0-based over all cells; null for a notebook-level finding. */
  cell_index: number | null;
  cell_id: string | null;
  /** 1-based over all cells, as JupyterLab shows "Cell N/M". */
  cell_position: number | null;
  /** 1-based within the cell's source. */
  line: number | null;
  column: number | null;
  end_line: number | null;
  end_column: number | null;
  fix: IFix | null;
}

/** One entry of the CLI's `files` list: either an error or a (possibly empty) list of findings. */
export interface IFileEntry {
  path: string;
  error: { kind: string; message: string } | null;
  findings: IFinding[];
}

/** `Rule.describe()`. */
export interface IRuleInfo {
  code: string;
  name: string;
  summary: string;
  severity: Severity;
  family: string;
  needs_history: boolean;
  options: Record<string, unknown>;
}

export interface IRuleDoc extends IRuleInfo {
  doc: string;
  sections: Record<string, string>;
}

/** The families in the order the sidebar shows them (`findings.Family`). */
export const FAMILIES: ReadonlyArray<[string, string]> = [
  ['hidden-state', 'Hidden state'],
  ['notebook', 'Notebook'],
  ['glue-code', 'Glue code'],
  ['configuration', 'Configuration'],
  ['ml-pitfalls', 'ML pitfalls'],
  ['external', 'External'],
  ['other', 'Other']
];
