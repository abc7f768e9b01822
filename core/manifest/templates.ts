/**
 * The `{{…}}` placeholders of pull-request titles and bodies and of the consolidated branch name.
 * Squadron's own names (`{{team}}`, `{{namespace}}`, `{{runId}}`, …) and kagents' Go-template
 * variables (`{{.TeamName}}`, `{{.Namespace}}`), so kagents' prTitleTemplate and
 * consolidatedBranchTemplate mean the same here. Unknown placeholders are left as written.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
}

export interface TemplateNames {
  team: string;
  namespace: string;
  runId: string;
}

/** Squadron's names plus kagents' aliases for them. */
export function templateValues(
  names: TemplateNames,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...extra, ...names, ".TeamName": names.team, ".Namespace": names.namespace };
}

/** The consolidated branch a template names for a run (validated in core/manifest/schema.ts). */
export function renderBranchTemplate(template: string, names: TemplateNames): string {
  return renderTemplate(template, templateValues(names));
}
