// The UI's words in zh-CN (the default) and English, and the API's stable error codes in plain
// words; an unknown code falls back to the server's own message.
import { createI18n } from 'vue-i18n';
import { ApiError } from './api';

const zh = {
  app: { title: '一网通办', subtitle: '青岛市一体化政务服务平台', language: 'English', skip: '跳到主要内容' },
  nav: {
    services: '办事指南', applications: '我的办件', licenses: '我的证照', reads: '我的数据被谁查看', inbox: '待办任务',
    intake: '窗口受理', catalog: '资源目录与授权', supervision: '电子监察', console: '运维管理', login: '登录', logout: '退出',
    menu: '菜单', notices: '消息',
  },
  common: {
    loading: '加载中…', none: '暂无数据', search: '搜索', back: '返回', open: '查看', save: '保存', submit: '提交', cancel: '取消',
    confirm: '确定', download: '下载', workingDays: '{n} 个工作日', yuan: '元', free: '不收费', department: '部门', status: '状态',
    actions: '操作', due: '办结期限', since: '开始时间', at: '时间', yes: '是', no: '否', refresh: '刷新', error: '出错了',
    noService: '该功能暂未开放（服务器没有这个接口）',
  },
  kinds: { citizen: '自然人', enterprise_user: '法人用户', official: '工作人员', supervisor: '监察员', operator: '运维人员' },
  states: {
    draft: '草稿', submitted: '待受理', accepted: '办理中', correction: '待补正', approved: '已办结（准予）', refused: '已办结（不予许可）',
    rejected: '不予受理',
  },
  login: {
    title: '登录', username: '用户名', password: '密码', totp: '动态口令（工作人员、监察员、运维人员）', submit: '登录',
    hint: '演示账号密码均为 onewindow-demo', totpHint: '6 位数字',
  },
  services: {
    title: '办事指南', search: '输入事项名称，如"出生"', code: '事项编码', promised: '承诺时限', statutory: '法定时限',
    departments: '实施部门', guide: '办事指南', conditions: '办理条件', materials: '申请材料', fees: '收费标准', legalBasis: '设定依据',
    apply: '在线申报', key: '必要材料', form: { original: '原件', copy: '复印件', electronic: '电子件' }, replacedBy: '可由{what}替代',
    loginToApply: '登录后申报', competent: '主管部门',
  },
  apply: {
    title: '在线申报', step1: '填写表单', step2: '上传材料', step3: '提交', sourceRegistry: '来自{registry}库（经{through}共享）',
    sourceApplicant: '本人填写', sourceByApplicant: '申请人填写', sourceNone: '未能共享，请填写', saveDraft: '保存草稿', saved: '草稿已保存', submitted: '已提交，等待窗口受理',
    upload: '选择文件', uploaded: '已上传', pick: '请选择', sex: { '1': '男', '2': '女' },
    bank: { icbc: '工商银行', abc: '农业银行', boc: '中国银行', ccb: '建设银行', qdbank: '青岛银行' }, prefilled: '以下信息已从政府部门共享获取，无需重复填写',
    registries: { person: '人口' },
  },
  application: {
    title: '办件详情', id: '办件编号', service: '事项', state: '状态', expected: '预计办结日期', holding: '当前办理部门',
    step: '环节', history: '办理过程', logIndex: '存证序号 {n}', correction: '补正要求', correctionReason: '补正说明',
    supply: '我已补正，提交', licenses: '办理结果（电子证照）', pdf: '下载 PDF', rate: '评价', rated: '已评价 {n} 分',
    rateComment: '评价意见', rateSubmit: '提交评价', continue: '继续填写', actions: {
      draft: '创建草稿', attach: '上传材料', submit: '提交申请', intake: '窗口受理', decide: '部门审批', correction_supplied: '补正完成',
      rate: '评价', approve: '审批通过', license: '发证',
    },
    levels: { '5': '非常满意', '4': '满意', '3': '基本满意', '2': '不满意', '1': '非常不满意' }, missing: '需补正：{what}',
  },
  notices: { title: '消息', markRead: '标为已读' },
  outcomes: { accept: '受理', reject: '不予受理', accept_with_missing: '容缺受理', approve: '准予', refuse: '不予许可', correction: '要求补正' },
  licenses: { title: '我的证照', holder: '持证人', issuer: '发证机关', number: '证照编号', status: '状态', valid: '有效', revoked: '已撤销' },
  reads: { title: '我的数据被谁查看', who: '查看部门', purpose: '用途', fields: '数据项', grant: '授权', note: '每次查看都经授权并记入透明日志', more: '加载更多' },
  inbox: {
    title: '待办任务', task: '任务', application: '办件', claim: '认领', claimed: '已认领', review: '审查', overdue: '已超期', near: '即将到期',
    ok: '正常', dueAt: '截止', mine: '我认领的',
  },
  review: {
    title: '审查办件', form: '本部门表单', materials: '本部门材料', decision: '审批决定', approve: '准予', refuse: '不予许可',
    correction: '要求补正', reason: '理由', legalBasis: '法律依据', missing: '需补正的材料或字段', done: '已提交决定', noTask: '本部门在此办件上没有待办任务',
  },
  intake: { acceptWithMissing: '容缺受理', owedHint: '选择尚欠的非必要材料，申请人稍后补交', title: '窗口受理', accept: '受理', reject: '不予受理', reason: '不予受理理由', applicant: '申请人', submittedAt: '提交时间', done: '已处理' },
  catalog: { title: '资源目录与授权', resources: '政务信息资源', grants: '共享授权', name: '名称', shareType: '共享属性', provider: '提供部门', consumer: '使用部门', approve: '同意', deny: '拒绝', purpose: '用途', request: '申请共享', expires: '有效期至' },
  supervision: {
    title: '电子监察', metrics: '办件统计', by: '维度', byDepartment: '按部门', byService: '按事项', byOfficial: '按人员', from: '起', to: '止',
    received: '收件', accepted: '受理', completed: '办结', onTime: '按时办结', overdue: '超期', refused: '不予许可', corrections: '补正',
    median: '中位用时（工作日）', p90: '90% 用时（工作日）', ratings: '评价', badRatings: '差评', warnings: '预警', cases: '监察案件',
    applications: '办件查询', history: '办件全过程', level: '等级', yellow: '黄牌', red: '红牌', used: '已用/时限', close: '结案', comment: '处理意见',
    rule: '规则', official: '人员', detail: '详情', open: '未结', closed: '已结', search: '办件编号、事项或申请人', csv: '导出 CSV', xlsx: '导出 Excel',
    noData: '暂无监察数据：服务器尚未提供电子监察接口', proof: '存证', treeHead: '签名树头',
    acts: {
      services: { draft: '创建草稿', attach: '上传材料', submit: '提交申请', intake: '窗口受理', decide: '部门审批', correction_supplied: '补正完成', rate: '评价' },
      workflow: { start: '流程启动', claim: '认领任务', complete: '完成任务', suspend: '挂起（停止计时）', resume: '恢复计时', end: '流程结束' },
    },
  },
  console: { title: '运维管理', departments: '部门', accounts: '账号', services: '政务服务事项', calendar: '工作日历', processes: '流程', key: '标识', code: '统一社会信用代码', name: '名称', kind: '类型', username: '用户名', date: '日期', working: '工作日', holiday: '节假日', version: '版本', division: '行政区划', noDiagram: '该流程模型没有图形信息（BPMN DI），无法绘制', create: '创建账号', created: '已创建账号 {name}', totpOnce: '动态口令密钥只显示这一次，请录入身份验证器：' },
};

type Messages = typeof zh;

const en: Messages = {
  app: { title: 'onewindow', subtitle: 'Qingdao integrated government services', language: '中文', skip: 'Skip to main content' },
  nav: {
    services: 'Services', applications: 'My applications', licenses: 'My licenses', reads: 'Who read my data', inbox: 'Tasks',
    intake: 'Window intake', catalog: 'Catalog and grants', supervision: 'Supervision', console: 'Operations', login: 'Log in', logout: 'Log out',
    menu: 'Menu', notices: 'Notices',
  },
  common: {
    loading: 'Loading…', none: 'Nothing here', search: 'Search', back: 'Back', open: 'Open', save: 'Save', submit: 'Submit', cancel: 'Cancel',
    confirm: 'Confirm', download: 'Download', workingDays: '{n} working days', yuan: 'yuan', free: 'Free of charge', department: 'Department',
    status: 'Status', actions: 'Actions', due: 'Due', since: 'Since', at: 'At', yes: 'Yes', no: 'No', refresh: 'Refresh', error: 'Something went wrong',
    noService: 'Not available yet (the server has no such route)',
  },
  kinds: { citizen: 'Citizen', enterprise_user: 'Enterprise user', official: 'Official', supervisor: 'Supervisor', operator: 'Operator' },
  states: {
    draft: 'Draft', submitted: 'Waiting for intake', accepted: 'In progress', correction: 'Correction needed', approved: 'Approved',
    refused: 'Refused', rejected: 'Rejected at intake',
  },
  login: {
    title: 'Log in', username: 'User name', password: 'Password', totp: 'One-time code (officials, supervisors, operators)', submit: 'Log in',
    hint: 'Every demo account has the password onewindow-demo', totpHint: '6 digits',
  },
  services: {
    title: 'Services', search: 'Name of a service, e.g. "出生"', code: 'Code', promised: 'Promised limit', statutory: 'Statutory limit',
    departments: 'Implementing departments', guide: 'Guide', conditions: 'Conditions', materials: 'Materials', fees: 'Fees', legalBasis: 'Legal basis',
    apply: 'Apply online', key: 'Required', form: { original: 'Original', copy: 'Copy', electronic: 'Electronic' }, replacedBy: 'may be replaced by {what}',
    loginToApply: 'Log in to apply', competent: 'Competent department',
  },
  apply: {
    title: 'Apply', step1: 'Fill in the form', step2: 'Upload materials', step3: 'Submit', sourceRegistry: 'From the {registry} registry (shared by {through})',
    sourceApplicant: 'Entered by you', sourceByApplicant: 'Entered by the applicant', sourceNone: 'Not shared: please fill in', saveDraft: 'Save draft', saved: 'Draft saved', submitted: 'Submitted: waiting for the window',
    upload: 'Choose file', uploaded: 'Uploaded', pick: 'Choose', sex: { '1': 'Male', '2': 'Female' },
    bank: { icbc: 'ICBC', abc: 'Agricultural Bank', boc: 'Bank of China', ccb: 'China Construction Bank', qdbank: 'Bank of Qingdao' },
    prefilled: 'These values came from government registries: no need to enter them again', registries: { person: 'person' },
  },
  application: {
    title: 'Application', id: 'Number', service: 'Service', state: 'State', expected: 'Expected completion', holding: 'Departments holding it',
    step: 'Step', history: 'History', logIndex: 'log entry {n}', correction: 'Correction requested', correctionReason: 'What is asked',
    supply: 'I have supplied it', licenses: 'Results (electronic licenses)', pdf: 'Download PDF', rate: 'Rate', rated: 'Rated {n}',
    rateComment: 'Comment', rateSubmit: 'Send rating', continue: 'Continue', actions: {
      draft: 'Draft created', attach: 'Material uploaded', submit: 'Submitted', intake: 'Intake', decide: 'Department decision',
      correction_supplied: 'Correction supplied', rate: 'Rated', approve: 'Approved', license: 'License issued',
    },
    levels: { '5': 'Very satisfied', '4': 'Satisfied', '3': 'Acceptable', '2': 'Dissatisfied', '1': 'Very dissatisfied' }, missing: 'Missing: {what}',
  },
  notices: { title: 'Notices', markRead: 'Mark read' },
  outcomes: { accept: 'accepted', reject: 'rejected', accept_with_missing: 'accepted with material owed', approve: 'approved', refuse: 'refused', correction: 'correction requested' },
  licenses: { title: 'My licenses', holder: 'Holder', issuer: 'Issued by', number: 'Number', status: 'Status', valid: 'Valid', revoked: 'Revoked' },
  reads: { title: 'Who read my data', who: 'Department', purpose: 'Purpose', fields: 'Items', grant: 'Grant', note: 'Every read goes through a grant and is recorded in the transparency log', more: 'Show more' },
  inbox: {
    title: 'Tasks', task: 'Task', application: 'Application', claim: 'Claim', claimed: 'Claimed', review: 'Review', overdue: 'Overdue', near: 'Near deadline',
    ok: 'On time', dueAt: 'Due', mine: 'Claimed by me',
  },
  review: {
    title: 'Review', form: "The department's part of the form", materials: "The department's materials", decision: 'Decision', approve: 'Approve',
    refuse: 'Refuse', correction: 'Request correction', reason: 'Reasons', legalBasis: 'Legal basis', missing: 'Missing materials or fields',
    done: 'Decision recorded', noTask: 'The department has no open task on this application',
  },
  intake: { acceptWithMissing: 'Accept, material owed', owedHint: 'Choose the non-required materials still owed; the applicant brings them later', title: 'Window intake', accept: 'Accept', reject: 'Reject', reason: 'Reason for rejecting', applicant: 'Applicant', submittedAt: 'Submitted', done: 'Done' },
  catalog: { title: 'Catalog and grants', resources: 'Information resources', grants: 'Grants', name: 'Name', shareType: 'Share type', provider: 'Provider', consumer: 'Consumer', approve: 'Approve', deny: 'Deny', purpose: 'Purpose', request: 'Ask for data', expires: 'Until' },
  supervision: {
    title: 'Supervision', metrics: 'Figures', by: 'By', byDepartment: 'Department', byService: 'Service', byOfficial: 'Official', from: 'From', to: 'To',
    received: 'Received', accepted: 'Accepted', completed: 'Completed', onTime: 'On time', overdue: 'Overdue', refused: 'Refused', corrections: 'Corrections',
    median: 'Median (working days)', p90: '90th percentile (working days)', ratings: 'Ratings', badRatings: 'Bad ratings', warnings: 'Warnings',
    cases: 'Cases', applications: 'Applications', history: 'Every act', level: 'Level', yellow: 'Yellow', red: 'Red', used: 'Used / limit', close: 'Close',
    comment: 'Comment', rule: 'Rule', official: 'Official', detail: 'Detail', open: 'Open', closed: 'Closed', search: 'Number, service or applicant',
    csv: 'CSV', xlsx: 'Excel', noData: 'No supervision data: the server does not offer the supervision routes yet', proof: 'Proof', treeHead: 'Signed tree head',
    acts: {
      services: { draft: 'Draft created', attach: 'Material uploaded', submit: 'Submitted', intake: 'Intake', decide: 'Department decision', correction_supplied: 'Correction supplied', rate: 'Rated' },
      workflow: { start: 'Process started', claim: 'Task claimed', complete: 'Task completed', suspend: 'Suspended (clock stopped)', resume: 'Resumed (clock running)', end: 'Process ended' },
    },
  },
  console: { title: 'Operations', departments: 'Departments', accounts: 'Accounts', services: 'Service items', calendar: 'Working-day calendar', processes: 'Processes', key: 'Key', code: 'USCC', name: 'Name', kind: 'Kind', username: 'User name', date: 'Date', working: 'Working day', holiday: 'Holiday', version: 'Version', division: 'Division', noDiagram: 'This model has no diagram (BPMN DI) to draw', create: 'Create account', created: 'Account {name} created', totpOnce: 'The TOTP secret is shown this once; enter it in the authenticator app:' },
};

// The stable error codes a person meets, in plain words.
const errors: Record<string, Record<string, string>> = {
  'zh-CN': {
    'identity.login_failed': '用户名、密码或动态口令不正确',
    'identity.locked': '登录失败次数过多，账号已暂时锁定，请 15 分钟后再试',
    'identity.rate_limited': '尝试过于频繁，请稍后再试',
    'identity.unauthenticated': '请先登录',
    'identity.permission_denied': '您没有办理此项业务的权限',
    'identity.other_department': '这属于其他部门',
    'http.csrf_token': '页面已过期，请刷新后重试',
    'http.network': '无法连接服务器，请检查网络',
    'http.not_found': '没有找到',
    'services.not_your_task': '这不是本部门的待办任务',
    'services.form_invalid': '表单填写有误',
    'services.material_missing': '缺少必要材料',
    'services.file_too_large': '文件太大',
    'services.bad_file_type': '文件类型不符合要求',
    'services.wrong_state': '办件当前状态不允许此操作',
    'services.application_not_found': '没有找到该办件',
    'services.key_material': '必要材料不能容缺',
    'services.not_an_applicant': '只有自然人或法人用户可以申报',
    'services.license_not_issued': '该办件没有颁发此证照',
    'workflow.task_not_claimable': '该任务已被他人认领或已结束',
    'catalog.no_grant': '没有共享授权',
  },
  en: {
    'identity.login_failed': 'The user name, password or one-time code is wrong',
    'identity.locked': 'Too many failed logins: the account is locked for 15 minutes',
    'identity.rate_limited': 'Too many attempts: try again in a minute',
    'identity.unauthenticated': 'Please log in first',
    'identity.permission_denied': 'You may not do this',
    'identity.other_department': 'This belongs to another department',
    'http.csrf_token': 'The page has expired: reload it and try again',
    'http.network': 'The server cannot be reached',
    'http.not_found': 'Not found',
    'services.not_your_task': "This is not your department's task",
    'services.form_invalid': 'The form has a mistake',
    'services.material_missing': 'A required material is missing',
    'services.file_too_large': 'The file is too large',
    'services.bad_file_type': 'This kind of file is not accepted here',
    'services.wrong_state': 'The application is not in a state that allows this',
    'services.application_not_found': 'No such application',
    'services.key_material': 'A required material cannot be owed',
    'services.not_an_applicant': 'Only citizens and enterprise users apply',
    'services.license_not_issued': 'The application issued no such license',
    'workflow.task_not_claimable': 'Someone else holds this task, or it has ended',
    'catalog.no_grant': 'No grant',
  },
};

const stored = typeof localStorage !== 'undefined' ? localStorage.getItem('onewindow.locale') : null;

export const i18n = createI18n({
  legacy: false,
  locale: stored === 'en' ? 'en' : 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
});

export function setLocale(locale: 'zh-CN' | 'en') {
  i18n.global.locale.value = locale;
  localStorage.setItem('onewindow.locale', locale);
  document.documentElement.lang = locale;
}

// An error in the chosen language: the code's words, with the field the server named.
export function describe(error: unknown): string {
  const locale = i18n.global.locale.value;
  if (error instanceof ApiError) {
    const words = errors[locale]?.[error.code];
    const field = typeof error.details?.field === 'string' ? ` (${error.details.field})` : '';
    if (words) return words + field;
    return error.message || error.code;
  }
  return String(error);
}
