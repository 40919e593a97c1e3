// The names of the demo node's departments by key (config/departments.yaml), for pages whose
// readers may not list departments themselves (citizens).
const names: Record<string, [string, string]> = {
  bigdata: ['青岛市大数据发展管理局', 'Big Data Administration'],
  approval: ['青岛市行政审批服务局', 'Administrative Approval Service Bureau'],
  market: ['青岛市市场监督管理局', 'Market Supervision Administration'],
  police: ['青岛市公安局', 'Public Security Bureau'],
  tax: ['国家税务总局青岛市税务局', 'Tax Service'],
  hrss: ['青岛市人力资源和社会保障局', 'Human Resources and Social Security Bureau'],
  medins: ['青岛市医疗保障局', 'Healthcare Security Administration'],
  health: ['青岛市卫生健康委员会', 'Health Commission'],
  civil: ['青岛市民政局', 'Civil Affairs Bureau'],
  supervision: ['青岛市监察委员会', 'Supervisory Commission'],
};

export function departmentName(key: string, locale: string): string {
  const found = names[key];
  if (!found) return key;
  return locale === 'en' ? found[1] : found[0];
}
