// The one form as pages draw it: its fields in the author's order and its options in words.

export interface FormField {
  name: string;
  title: string;
  enum?: string[];
  date: boolean;
  required: boolean;
}

// The server sorts a schema's keys; the required list keeps the author's order, so it leads.
export function orderedFields(schema: any): FormField[] {
  const properties = schema?.properties ?? {};
  const required: string[] = schema?.required ?? [];
  const rank = (name: string) => (required.includes(name) ? required.indexOf(name) : required.length);
  return Object.keys(properties)
    .sort((a, b) => rank(a) - rank(b))
    .map((name) => ({
      name,
      title: properties[name].title ?? name,
      enum: properties[name].enum as string[] | undefined,
      date: typeof properties[name].pattern === 'string' && properties[name].pattern.includes('{4}-'),
      required: required.includes(name),
    }));
}

// An enumerated value in words where the UI knows them (the newborn's sex, the card's bank).
export function optionLabel(t: (key: string) => string, te: (key: string) => boolean, field: string, option: string): string {
  const key = field === 'child_sex' ? `apply.sex.${option}` : field === 'bank_for_card' ? `apply.bank.${option}` : '';
  return key && te(key) ? t(key) : option;
}
