/**
 * Topic vocabularies for the synthetic AntM2C-style text. Each topic is a service domain of a payments
 * super-app; item titles and entity names are drawn from an item's topics and user entity sequences from a
 * user's interests, so text genuinely predicts the latent vectors that drive clicks.
 */
export interface Topic {
  name: string;
  entities: string[];
}

export const TOPICS: Topic[] = [
  { name: "餐饮", entities: ["外卖", "奶茶", "火锅", "咖啡", "快餐", "烧烤", "早餐", "面馆", "甜品", "自助餐", "小龙虾", "饺子"] },
  { name: "出行", entities: ["打车", "地铁", "公交卡", "共享单车", "加油", "停车", "高铁票", "顺风车", "代驾", "充电桩", "机票", "租车"] },
  { name: "理财", entities: ["基金", "余额宝", "定期", "黄金", "股票", "债券", "理财产品", "收益", "定投", "存款", "指数基金", "养老金"] },
  { name: "保险", entities: ["医疗险", "重疾险", "车险", "意外险", "寿险", "保单", "理赔", "好医保", "健康险", "宠物险", "退货险", "账户险"] },
  { name: "医疗", entities: ["挂号", "体检", "药店", "问诊", "疫苗", "医保", "牙科", "眼科", "处方药", "核酸", "中医", "体检套餐"] },
  { name: "教育", entities: ["网课", "英语", "考研", "驾校", "编程", "少儿", "书法", "钢琴", "雅思", "公考", "早教", "题库"] },
  { name: "游戏", entities: ["手游", "点卡", "皮肤", "充值", "电竞", "礼包", "王者", "游戏币", "会员卡", "装备", "开黑", "赛季"] },
  { name: "购物", entities: ["淘宝", "天猫", "优惠券", "红包", "秒杀", "包邮", "团购", "会员日", "满减", "折扣", "直播", "好物"] },
  { name: "缴费", entities: ["电费", "水费", "燃气费", "话费", "宽带", "物业费", "暖气费", "流量包", "有线电视", "罚款", "社保", "公积金"] },
  { name: "娱乐", entities: ["电影票", "演唱会", "视频会员", "音乐", "小说", "综艺", "剧本杀", "KTV", "话剧", "漫画", "直播间", "短视频"] },
  { name: "运动", entities: ["健身房", "跑步", "瑜伽", "游泳", "羽毛球", "篮球", "骑行", "登山", "运动鞋", "健身卡", "马拉松", "滑雪"] },
  { name: "美妆", entities: ["口红", "面膜", "精华", "防晒", "香水", "粉底", "眼影", "护肤", "美甲", "洗面奶", "卸妆", "美发"] },
  { name: "数码", entities: ["手机", "耳机", "平板", "笔记本", "充电宝", "智能手表", "相机", "键盘", "显示器", "路由器", "音箱", "数据线"] },
  { name: "母婴", entities: ["奶粉", "纸尿裤", "童装", "玩具", "辅食", "婴儿车", "孕妇", "早教机", "儿童座椅", "奶瓶", "湿巾", "绘本"] },
  { name: "旅游", entities: ["酒店", "民宿", "景点门票", "签证", "跟团游", "自由行", "温泉", "度假村", "海岛", "露营", "邮轮", "导游"] },
  { name: "生活", entities: ["家政", "洗衣", "搬家", "维修", "快递", "鲜花", "宠物", "开锁", "保洁", "回收", "跑腿", "租房"] },
];

/** Brand-like prefixes and offer-like suffixes that make titles look like real ad creatives. */
export const TITLE_PREFIXES = ["惠民", "安心", "金选", "优享", "乐享", "尊享", "精选", "臻选", "便民", "智慧", "全民", "超值"];
export const TITLE_SUFFIXES = ["优惠券", "限时特惠", "新人礼", "会员专享", "立减", "福利", "服务", "专区", "领取", "折扣", "返现", "特价"];
